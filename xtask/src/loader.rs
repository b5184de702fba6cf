//! Part of `cargo xtask post-build`: moves every inline `<script>` of the built
//! `index.html` (Trunk writes its wasm loader inline) into a file of its own, so
//! the server's Content-Security-Policy can stay `script-src 'self'` without a
//! hash that changes with every build.
//!
//! Each file is named by a hash of its contents, like Trunk's own files, so a
//! cached copy is never stale. Inline styles are not moved: the build has none,
//! and one appearing is an error here rather than a page the policy breaks on a
//! tablet.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Result;

/// Rewrites `index.html` in `staging`, writing each inline script beside it;
/// `public_url` is where the build is served from (Trunk's `public_url`).
/// Returns how many scripts it moved.
pub fn move_inline_scripts(staging: &Path, public_url: &str) -> Result<usize> {
    let index = staging.join("index.html");
    let html = std::fs::read_to_string(&index)?;
    let (rewritten, scripts) = extract(&html, public_url)?;
    for (name, contents) in &scripts {
        std::fs::write(staging.join(name), contents)?;
    }
    std::fs::write(&index, rewritten)?;
    Ok(scripts.len())
}

/// `html` with each inline script replaced by one loaded from its own file, and
/// those files (name, contents).
fn extract(html: &str, public_url: &str) -> Result<(String, Vec<(String, String)>)> {
    if let Some(style) = ["<style", " style="]
        .iter()
        .find(|style| html.contains(*style))
    {
        return Err(format!(
            "post-build: index.html has an inline style ({style:?}); the server's \
             Content-Security-Policy (style-src 'self') would refuse it: use a stylesheet"
        )
        .into());
    }
    let mut rewritten = String::with_capacity(html.len());
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let (before, from_tag) = rest.split_at(start);
        rewritten.push_str(before);
        let tag_end = from_tag
            .find('>')
            .ok_or("post-build: a <script> tag is not closed")?
            + 1;
        let (tag, after_tag) = from_tag.split_at(tag_end);
        let close = after_tag
            .find("</script>")
            .ok_or("post-build: a <script> has no </script>")?;
        let (contents, after_script) = after_tag.split_at(close);
        if tag.contains(" src=") {
            rewritten.push_str(tag);
            rewritten.push_str(contents);
        } else {
            let name = format!("loader-{}.js", hex(&Sha256::digest(contents)[..8]));
            rewritten.push_str(&tag[..tag.len() - 1]);
            rewritten.push_str(&format!(" src=\"{public_url}{name}\">"));
            scripts.push((name, contents.trim().to_owned() + "\n"));
        }
        rewritten.push_str("</script>");
        rest = &after_script["</script>".len()..];
    }
    rewritten.push_str(rest);
    Ok((rewritten, scripts))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Trunk 0.21 writes: a preload and the inline module that starts the app.
    const BUILT: &str = r#"<head><link rel="modulepreload" href="/hp-ecmo-1a2b.js"></head><body>
<script type="module">
import init, * as bindings from '/hp-ecmo-1a2b.js';
const wasm = await init({ module_or_path: '/hp-ecmo-1a2b_bg.wasm' });
</script></body>"#;

    #[test]
    fn the_inline_loader_moves_into_a_file_named_by_its_hash() {
        let (html, scripts) = extract(BUILT, "/").unwrap();
        let [(name, contents)] = scripts.as_slice() else {
            panic!("one script: {scripts:?}")
        };
        assert!(
            name.starts_with("loader-") && name.ends_with(".js"),
            "{name}"
        );
        assert!(
            contents.starts_with("import init, * as bindings"),
            "{contents}"
        );
        assert_eq!(
            html,
            format!(
                "<head><link rel=\"modulepreload\" href=\"/hp-ecmo-1a2b.js\"></head><body>\n\
                 <script type=\"module\" src=\"/{name}\"></script></body>"
            )
        );
        let (again, _) = extract(BUILT, "/").unwrap();
        assert_eq!(html, again, "same build, same name");
        let (other, _) = extract(&BUILT.replace("1a2b", "3c4d"), "/").unwrap();
        assert_ne!(html.replace("1a2b", "3c4d"), other, "new loader, new name");
    }

    #[test]
    fn scripts_with_a_source_stay_and_the_public_url_is_kept() {
        let html = r#"<script src="/sw-register.js"></script><script>go()</script>"#;
        let (rewritten, scripts) = extract(html, "/app/").unwrap();
        assert_eq!(scripts.len(), 1);
        assert_eq!(
            rewritten,
            format!(
                r#"<script src="/sw-register.js"></script><script src="/app/{}"></script>"#,
                scripts[0].0
            )
        );
    }

    #[test]
    fn an_inline_style_is_an_error() {
        for html in ["<style>p{}</style>", r#"<p style="color: red">"#] {
            let error = extract(html, "/").unwrap_err().to_string();
            assert!(error.contains("style-src 'self'"), "{error}");
        }
    }
}
