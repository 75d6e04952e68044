include!("build/torch_rpath.rs");
fn main() {
    // The orchestrator binary never links libtorch; its integration tests do (they use the
    // science crate's checkpoint code), so only they get the rpath.
    torch_link_args_for("-tests");
}
