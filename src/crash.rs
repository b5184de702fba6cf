//! What a nurse sees if the app's code fails (a Rust panic): the app cannot go on,
//! but nothing saved is lost, since every record was committed to IndexedDB when it
//! was saved. So instead of a frozen page, a banner says so in the user's language
//! and offers a reload. It is built with the DOM directly, not with Leptos, whose
//! state the failure may have left half-updated.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::i18n::{Lang, Text, t};

/// The banner's element id, so it is shown once however often the code fails.
const NOTICE_ID: &str = "crash-notice";

/// Routes every panic to the browser console (for support) and to the notice.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_notice(Lang::initial());
    }));
}

/// Shows the notice, in `lang`, above everything on the page.
pub fn show_notice(lang: Lang) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    if document.get_element_by_id(NOTICE_ID).is_some() {
        return;
    }
    let (Ok(notice), Ok(text), Ok(button), Some(body)) = (
        document.create_element("div"),
        document.create_element("p"),
        document.create_element("button"),
        document.body(),
    ) else {
        return;
    };
    notice.set_id(NOTICE_ID);
    notice.set_class_name("banner error crash");
    let _ = notice.set_attribute("role", "alert");
    let _ = notice.set_attribute("data-testid", "crash-notice");
    text.set_text_content(Some(t(lang, Text::CrashNotice)));
    button.set_text_content(Some(t(lang, Text::ReloadNow)));
    button.set_class_name("primary");
    let _ = button.set_attribute("data-testid", "crash-reload");
    // A listener, not an inline handler: the Content-Security-Policy allows no
    // inline script. It lives as long as the page.
    let reload = Closure::<dyn Fn()>::new(|| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    let _ = button.add_event_listener_with_callback("click", reload.as_ref().unchecked_ref());
    reload.forget();
    let _ = notice.append_child(&text);
    let _ = notice.append_child(&button);
    let _ = body.prepend_with_node_1(&notice);
}
