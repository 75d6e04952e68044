//! DPG-Bench's CSV (placeholder until written).
