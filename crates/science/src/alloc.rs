//! glibc malloc settings for a training process. libtorch allocates every CPU tensor with
//! glibc's allocator, and with its defaults the megabyte-sized activations of a distill
//! iteration go back to the kernel when freed (mmap'd chunks unmapped, the heap top trimmed)
//! and are faulted in, zeroed, again on the next forward: at batch 32, 16×16, ~67,000 page
//! faults per iteration, ~15 % of its time at one thread (docs/BENCHMARKS.md, row 1). With
//! these settings freed memory stays in the process and is reused; values are unchanged
//! (tests/alloc_results.rs), at the cost of holding on to up to the trim threshold of free
//! memory.

use std::sync::OnceLock;

/// Chunks up to this size come from the heap instead of their own mmap (glibc's largest
/// allowed value on 64-bit; the largest tensor of a distill iteration at batch 32 is ~19 MiB).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap kept rather than returned to the kernel.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Applies the settings once per process; returns whether glibc accepted them (false on other
/// platforms, where nothing is changed).
pub fn keep_freed_memory() -> bool {
    static APPLIED: OnceLock<bool> = OnceLock::new();
    *APPLIED.get_or_init(apply)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes glibc's allocation policy and may be called at any time;
    // it returns 1 on success and 0 for a value it refuses.
    let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
    // SAFETY: as above.
    let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) };
    mmap == 1 && trim == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    let _ = (MMAP_THRESHOLD, TRIM_THRESHOLD);
    false
}
