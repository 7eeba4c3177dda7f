//! The keyboard alone, for the keyboard-only walk (`tests/tests/web/a11y_keys.rs`): key presses
//! through WebDriver actions (as a keyboard types them, to whatever has the focus), and what has
//! the focus: which element, and whether a focus indicator is drawn for it (an outline on it or
//! on an ancestor: these pages draw outlines only for the focus).

use crate::browser::Browser;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;

/// Presses and releases each character of `keys` (a `Key` as its char for special keys).
pub async fn keys(b: &Browser, keys: &str) {
    let mut a = KeyActions::new("keyboard".into());
    for value in keys.chars() {
        a = a
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
    }
    b.client.perform_actions(a).await.expect("key presses");
}

/// Presses one key.
pub async fn key(b: &Browser, k: Key) {
    keys(b, &char::from(k).to_string()).await;
}

/// Shift+Tab.
pub async fn shift_tab(b: &Browser) {
    let (shift, tab) = (char::from(Key::Shift), char::from(Key::Tab));
    let a = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: shift })
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab })
        .then(KeyAction::Up { value: shift });
    b.client.perform_actions(a).await.expect("shift+tab");
}

/// What has the focus: `{name, ring, shown}`. `name` is `tag#id.class "text"` (`body` when
/// nothing has it); `ring` says where an outline is drawn (`self`, `ancestor`) or is null;
/// `shown` whether the element has a size on screen.
pub async fn focused(b: &Browser) -> Value {
    b.js("const e = document.activeElement;
          if (!e || e === document.body || e === document.documentElement)
            return { name: 'body', ring: null, shown: false };
          const text = (e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 30);
          const name = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
            (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
            (text ? ` \"${text}\"` : '');
          const drawn = (x) => { const s = getComputedStyle(x);
            return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 &&
                   s.outlineColor !== 'rgba(0, 0, 0, 0)'; };
          let ring = drawn(e) ? 'self' : null;
          for (let a = e.parentElement; !ring && a; a = a.parentElement) if (drawn(a)) ring = 'ancestor';
          const r = e.getBoundingClientRect();
          return { name, ring, shown: r.width > 0 && r.height > 0 };")
        .await
}

/// Asserts the focus is on an element matching `css`, with its focus indicator drawn.
pub async fn assert_focus(b: &Browser, css: &str, step: &str) {
    let ok = b
        .js_with(
            "return !!document.activeElement && document.activeElement.matches(arguments[0])",
            vec![serde_json::json!(css)],
        )
        .await;
    let f = focused(b).await;
    assert_eq!(
        ok,
        Value::Bool(true),
        "{step}: the focus is on {f}, not {css}"
    );
    assert_visible(&f, step);
}

/// Asserts `f` (from [`focused`]) is an element on screen with its focus indicator drawn.
pub fn assert_visible(f: &Value, step: &str) {
    assert!(
        f["name"] != "body" && f["shown"] == true && !f["ring"].is_null(),
        "{step}: the focus is not visible: {f}"
    );
}

/// Presses Tab (Shift+Tab with `back`) until an element matching `css` has the focus, asserting
/// at every stop that the focus is visible; fails after `max` presses (a trap, or `css` is not
/// reachable). Leaving the page once (the focus on `body` between the last and the first
/// control) is allowed. Returns the names of the elements passed.
pub async fn tab_to(b: &Browser, css: &str, back: bool, max: usize, step: &str) -> Vec<String> {
    let mut passed = Vec::new();
    let mut left_page = false;
    for _ in 0..max {
        if back {
            shift_tab(b).await;
        } else {
            key(b, Key::Tab).await;
        }
        let f = focused(b).await;
        let name = f["name"].as_str().unwrap_or_default().to_owned();
        if name == "body" {
            assert!(
                !left_page,
                "{step}: the focus left the page twice: {passed:?}"
            );
            left_page = true;
            continue;
        }
        assert_visible(&f, &format!("{step}, after {passed:?}"));
        passed.push(name);
        let here = b
            .js_with(
                "return document.activeElement.matches(arguments[0])",
                vec![serde_json::json!(css)],
            )
            .await;
        if here == Value::Bool(true) {
            return passed;
        }
    }
    panic!("{step}: {css} not reached in {max} key presses; passed {passed:?}");
}
