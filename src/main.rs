//! Mounts [`hp_ecmo::App`] on the page; everything else lives in the library.

#[cfg(target_arch = "wasm32")]
fn main() {
    hp_ecmo::crash::install();
    leptos::mount::mount_to_body(hp_ecmo::App);
}

/// Built natively only as part of the workspace: the app itself runs in a browser.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("hp-ecmo is the browser app; start it with `cargo xtask run`");
    std::process::exit(2);
}
