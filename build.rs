include!("build/torch_rpath.rs");
fn main() {
    // Only the `science` feature links libtorch; an orchestrator-only build needs none of it.
    if std::env::var_os("CARGO_FEATURE_SCIENCE").is_some() {
        torch_link_args();
    }
}
