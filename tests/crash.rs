//! Browser test, in headless Chromium: a panic anywhere in the app's code shows
//! the notice that saved records are safe, in the user's language, with a reload
//! button, instead of leaving a frozen page. The panic is a real one, in a task of
//! its own, after the app's hook is installed.
#![cfg(target_arch = "wasm32")]

use hp_ecmo::i18n::Lang;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_panic_shows_the_notice_in_the_users_language() {
    Lang::Zh.save();
    hp_ecmo::crash::install();
    wasm_bindgen_futures::spawn_local(async {
        panic!("a failure the app did not foresee");
    });
    sleep(50).await;
    let document = web_sys::window().unwrap().document().unwrap();
    let notice = document
        .query_selector("[data-testid=crash-notice]")
        .unwrap()
        .expect("the notice is shown");
    assert_eq!(notice.get_attribute("role").as_deref(), Some("alert"));
    let text = notice.text_content().unwrap();
    assert!(text.contains("已录入的记录不会丢失"), "{text}");
    let button = document
        .query_selector("[data-testid=crash-reload]")
        .unwrap()
        .expect("the reload button is shown");
    assert_eq!(button.text_content().as_deref(), Some("立即重新加载"));
}

/// Waits `ms` milliseconds, letting the panicking task run first.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}
