//! Small widgets the pages are built from. Each input has a visible `<label for>`,
//! touch targets of at least 48 px (style/main.css), and shows its field's error
//! beside it.

mod app_bar;
pub mod backup;
pub mod dirty;
mod inputs;
mod sync_status;

pub use app_bar::AppBar;
pub use inputs::{
    AnswerField, ChoiceField, DateField, DateTimeField, NumberField, Radios, TextField,
};
pub use sync_status::{ProgressBar, SyncStatusPanel};
