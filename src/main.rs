fn main() {
    println!("ddmd-pipe");
}
