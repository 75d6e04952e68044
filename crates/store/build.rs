// `sqlx::migrate!` embeds the migration files at compile time but does not tell cargo about new
// files; without this a migration added later would be missed until something else changed.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
