//! Mounts the coordinator console ([`hp_ecmo::console::Console`]): its own entry
//! point, so the tablet's bundle does not carry it (`console.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    hp_ecmo::crash::install();
    leptos::mount::mount_to_body(hp_ecmo::console::Console);
}

/// Built natively only as part of the workspace: the console runs in a browser.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("hp-ecmo-console is the browser console; the server serves it at /console");
    std::process::exit(2);
}
