//! Which forms hold input that is not saved yet, so nothing that would throw it
//! away (an app update's reload, opening another form) does so without asking.
//!
//! A scope ([`provide_dirty`]) collects the forms rendered inside it; each form
//! [`DirtyForms::register`]s a signal saying whether it holds unsaved input, for as
//! long as the form is on screen. A scope inside another counts as one form of the
//! outer one, so the root sees every form and a page can still ask about its own.

use leptos::prelude::*;

use crate::i18n::{Lang, Text, t};

/// The forms of one scope with unsaved input: a handle, cheap to copy.
#[derive(Clone, Copy)]
pub struct DirtyForms {
    forms: RwSignal<Vec<(u64, Signal<bool>)>>,
    next_id: StoredValue<u64>,
}

impl DirtyForms {
    fn new() -> Self {
        Self {
            forms: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
        }
    }

    /// Whether any form of this scope holds unsaved input; a reactive read.
    pub fn any_dirty(self) -> bool {
        self.forms
            .with(|forms| forms.iter().any(|(_, unsaved)| unsaved.get()))
    }

    /// Whether whatever this scope holds unsaved may be lost: nothing is unsaved,
    /// or the user says so when asked.
    pub fn may_discard(self, lang: Lang) -> bool {
        !untrack(|| self.any_dirty())
            || window()
                .confirm_with_message(t(lang, Text::DiscardUnsaved))
                .unwrap_or(false)
    }

    /// Counts `unsaved` (whether the calling form holds unsaved input) in this scope
    /// until the calling component is removed from the page.
    pub fn register(self, unsaved: Signal<bool>) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.forms.update(|forms| forms.push((id, unsaved)));
        on_cleanup(move || {
            // The scope may be gone first when the whole page is removed at once.
            self.forms
                .try_update(|forms| forms.retain(|(form, _)| *form != id));
        });
    }
}

/// Starts a scope for the components below the caller, counted as one form of the
/// enclosing scope if there is one.
pub fn provide_dirty() -> DirtyForms {
    let scope = DirtyForms::new();
    if let Some(outer) = use_context::<DirtyForms>() {
        outer.register(Signal::derive(move || scope.any_dirty()));
    }
    provide_context(scope);
    scope
}

/// The nearest scope. Without one a form still registers, with a scope nobody
/// reads, so a form never depends on where it is shown.
pub fn use_dirty() -> DirtyForms {
    use_context().unwrap_or_else(DirtyForms::new)
}
