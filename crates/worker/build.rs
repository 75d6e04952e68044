include!("../../build/torch_rpath.rs");
fn main() {
    torch_link_args();
}
