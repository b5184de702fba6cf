//! The page's side of the progressive web app: registers the service worker,
//! notices a new version waiting, activates it when the user agrees, and asks the
//! browser to keep this tablet's data (persistent storage).
//!
//! The browser APIs involved are event-heavy and mostly unstable in web-sys, so a
//! small JavaScript snippet does the wiring and Rust keeps the decisions.

use leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
let updating = false;
export function register_service_worker(on_update_ready) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // Reload only for an update the user accepted, never for the first install.
    if (updating) { updating = false; location.reload(); }
  });
  navigator.serviceWorker.register("/sw.js").then((registration) => {
    const notify = () => {
      if (registration.waiting && navigator.serviceWorker.controller) on_update_ready();
    };
    notify();
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      if (worker) worker.addEventListener("statechange", () => {
        if (worker.state === "installed") notify();
      });
    });
    // Look for a new version now and then while the app stays open for days.
    setInterval(() => registration.update().catch(() => {}), 30 * 60 * 1000);
  }).catch(() => {});
}
export function activate_update() {
  navigator.serviceWorker.getRegistration().then((registration) => {
    if (registration && registration.waiting) {
      updating = true;
      registration.waiting.postMessage({ type: "SKIP_WAITING" });
    }
  });
}
export async function storage_status() {
  const storage = navigator.storage;
  if (!storage) return { persisted: false, usage: 0, quota: 0 };
  let persisted = await storage.persisted();
  if (!persisted && storage.persist) {
    try { persisted = await storage.persist(); } catch (_) { persisted = false; }
  }
  const estimate = storage.estimate ? await storage.estimate() : {};
  return { persisted, usage: estimate.usage || 0, quota: estimate.quota || 0 };
}
"#)]
extern "C" {
    fn register_service_worker(on_update_ready: &Closure<dyn FnMut()>);
    fn activate_update();
    async fn storage_status() -> JsValue;
}

/// Registers the service worker; `update_ready` turns true when a new version has
/// been downloaded completely and waits for the user's go-ahead.
pub fn register(update_ready: RwSignal<bool>) {
    let on_update = Closure::<dyn FnMut()>::new(move || update_ready.set(true));
    register_service_worker(&on_update);
    // The page lives as long as the app: the callback must too.
    on_update.forget();
}

/// Switches to the waiting version; the page reloads once it is active.
pub fn update_now() {
    activate_update();
}

/// Whether the browser promised to keep this tablet's data, and how much is stored.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct StorageStatus {
    /// Granted persistent storage: the browser will not clear it under pressure.
    pub persisted: bool,
    /// Bytes stored by this app.
    pub usage: f64,
    /// Bytes the browser allows.
    pub quota: f64,
}

/// Asks for persistent storage (once granted, asking again is harmless) and reads
/// the usage.
pub async fn storage() -> Option<StorageStatus> {
    serde_wasm_bindgen::from_value(storage_status().await).ok()
}
