//! The console's "Data queries" section (issue 13 item 4): every site's queries,
//! filtered by status and study number, each with both changes (what, who, on
//! which tablet, when), its comment thread, and its resolution: keep the value
//! that shows or take the one it replaced, with a reason. The core's rule
//! (`trial::query`) checks a comment or a resolution before it is sent, and the
//! server checks it again; the correction reaches the tablets at their next sync.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use trial::payload::PayloadError;
use trial::query::{
    CommentError, DataQuery, NewQueryComment, QueryChange, QueryResolution, QueryStatus,
};

use super::api;
use super::pages::{failure_message, local_time};
use super::text::{Ct, ct};
use crate::i18n::{Lang, field_error, field_label, form_label, use_lang};
use crate::pages::describe_entry;

/// The queries of every site, as the account's role may answer them.
#[component]
pub fn Queries() -> impl IntoView {
    let lang = use_lang();
    let status = RwSignal::new(QueryStatus::Open);
    let needle = RwSignal::new(String::new());
    let version = RwSignal::new(0_u32);
    let answer = LocalResource::new(move || {
        version.track();
        api::queries(status.get())
    });
    let choose = move |value: String| {
        status.set(match value.as_str() {
            "closed" => QueryStatus::Closed,
            "all" => QueryStatus::All,
            _ => QueryStatus::Open,
        });
    };
    view! {
        <section class="card" data-testid="console-queries">
            <h2>{move || ct(lang.get(), Ct::QueriesTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::QueriesHelp)}</p>
            <div class="query-filters">
                <label>
                    {move || ct(lang.get(), Ct::QueryStatusLabel)}
                    <select data-testid="query-status" on:change=move |event| choose(event_target_value(&event))>
                        <option value="open">{move || ct(lang.get(), Ct::QueriesOpen)}</option>
                        <option value="closed">{move || ct(lang.get(), Ct::QueriesClosed)}</option>
                        <option value="all">{move || ct(lang.get(), Ct::QueriesAll)}</option>
                    </select>
                </label>
                <label>
                    {move || ct(lang.get(), Ct::FilterStudyNumber)}
                    <input type="search" data-testid="query-filter" bind:value=needle/>
                </label>
            </div>
            {move || answer.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(answer) => {
                    let needle = needle.get().trim().to_uppercase();
                    let shown: Vec<DataQuery> = answer
                        .queries
                        .into_iter()
                        .filter(|query| {
                            needle.is_empty()
                                || query.study_number.as_deref().unwrap_or_default().contains(&needle)
                        })
                        .collect();
                    if shown.is_empty() {
                        view! { <p data-testid="queries-none">{move || ct(lang.get(), Ct::NoQueries)}</p> }.into_any()
                    } else {
                        shown.into_iter().map(|query| view! { <QueryCard query=query version=version/> }).collect_view().into_any()
                    }
                }
            })}
        </section>
    }
}

/// One query: its two changes, its thread, and what may still be done with it.
#[component]
fn QueryCard(query: DataQuery, version: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let reference = query.query;
    let field = reference.field;
    let comment = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Problem>);
    let busy = RwSignal::new(false);
    let done = move |result: Result<DataQuery, api::Failure>| match result {
        Ok(_) => version.update(|version| *version += 1),
        Err(failure) => {
            busy.set(false);
            error.set(Some(Problem::Failed(failure)));
        }
    };
    let add_comment = move |_| {
        let request = NewQueryComment {
            query: reference,
            text: comment.get_untracked(),
        };
        if let Err(problem) = request.text() {
            error.set(Some(Problem::Comment(problem)));
            return;
        }
        busy.set(true);
        spawn_local(async move { done(api::comment(&request).await) });
    };
    let standing = StoredValue::new(query.shown.entry.clone());
    let form = query.form;
    let resolve = move |entry: Value| {
        let Some(form) = form else { return };
        let request = QueryResolution {
            query: reference,
            entry,
            reason: reason.get_untracked(),
        };
        if let Err(problem) = standing.with_value(|standing| request.correction(form, standing)) {
            error.set(Some(Problem::Resolution(problem)));
            return;
        }
        busy.set(true);
        spawn_local(async move { done(api::resolve(&request).await) });
    };
    let testid = query
        .study_number
        .clone()
        .unwrap_or_else(|| query.participant_id.to_string());
    let study_number = query.study_number.clone();
    let title = move || {
        let lang = lang.get();
        let number = study_number
            .clone()
            .unwrap_or_else(|| ct(lang, Ct::NotRandomisedYet).to_owned());
        let form = query.form.map_or_else(
            || ct(lang, Ct::ScreeningForm).to_owned(),
            |form| form_label(lang, form),
        );
        format!("{number} · {form} · {}", field_label(lang, field))
    };
    let opened_at_ms = query.opened_at_ms;
    let closed_at_ms = query.closed_at_ms;
    let state = move || {
        let lang = lang.get();
        match closed_at_ms {
            Some(at) => format!("{} {}", ct(lang, Ct::QueryResolvedAt), local_time(lang, at)),
            None => format!(
                "{} {}",
                ct(lang, Ct::QueryOpenedAt),
                local_time(lang, opened_at_ms)
            ),
        }
    };
    let open = closed_at_ms.is_none();
    let (shown_entry, overridden_entry) =
        (query.shown.entry.clone(), query.overridden.entry.clone());
    let resolution = match (open, query.form) {
        (false, _) => None,
        (true, None) => {
            Some(view! { <p>{move || ct(lang.get(), Ct::ScreeningQueryHelp)}</p> }.into_any())
        }
        (true, Some(_)) => Some(
            view! {
                <label class="query-reason">
                    {move || ct(lang.get(), Ct::ResolutionReason)}
                    <input type="text" data-testid="query-reason" bind:value=reason/>
                </label>
                <div class="query-actions">
                    <button type="button" data-testid="query-keep" disabled=move || busy.get()
                        on:click=move |_| resolve(shown_entry.clone())>
                        {move || ct(lang.get(), Ct::KeepShown)}
                    </button>
                    <button type="button" data-testid="query-take" disabled=move || busy.get()
                        on:click=move |_| resolve(overridden_entry.clone())>
                        {move || ct(lang.get(), Ct::TakeOverridden)}
                    </button>
                </div>
            }
            .into_any(),
        ),
    };
    view! {
        <article class="console-query" data-testid=format!("query-{testid}") data-open=open.to_string()>
            <h3>{title}</h3>
            <p class="query-state">{state}</p>
            <div class="query-sides">
                <Side title=Ct::ShownValue change=query.shown.clone() field=field testid="query-shown"/>
                <Side title=Ct::OverriddenValue change=query.overridden.clone() field=field testid="query-overridden"/>
            </div>
            <h4>{move || ct(lang.get(), Ct::QueryThread)}</h4>
            <ul class="query-thread" data-testid="query-thread">
                {query.comments.iter().map(|comment| {
                    let (author, at_ms, text) = (comment.author.clone(), comment.at_ms, comment.text.clone());
                    view! {
                        <li><strong>{author}</strong> " · " {move || local_time(lang.get(), at_ms)}<p>{text}</p></li>
                    }
                }).collect_view()}
            </ul>
            <label class="query-comment">
                {move || ct(lang.get(), Ct::CommentLabel)}
                <textarea rows="2" data-testid="query-comment" bind:value=comment></textarea>
            </label>
            <button type="button" class="secondary" data-testid="query-add-comment" disabled=move || busy.get()
                on:click=add_comment>
                {move || ct(lang.get(), Ct::AddComment)}
            </button>
            {resolution}
            <p class="field-error" role="alert" data-testid="query-error">
                {move || error.with(|problem| problem.as_ref().map(|problem| problem.text(lang.get())))}
            </p>
        </article>
    }
}

/// One change of a query: the entry, and who made it, where and when.
#[component]
fn Side(
    title: Ct,
    change: QueryChange,
    field: trial::field::Field,
    testid: &'static str,
) -> impl IntoView {
    let lang = use_lang();
    let QueryChange {
        entry,
        user,
        device,
        recorded_at_ms,
        ..
    } = change;
    view! {
        <div class="query-side" data-testid=testid>
            <h4>{move || ct(lang.get(), title)}</h4>
            <p class="query-value">{move || describe_entry(lang.get(), field, &entry)}</p>
            <p>{format!("{user} · {device}")} " · " {move || local_time(lang.get(), recorded_at_ms)}</p>
        </div>
    }
}

/// Why the last comment or resolution was not made: kept as the problem, not
/// its words, so it reads in the language the page is switched to.
#[derive(Clone, Debug)]
enum Problem {
    Comment(CommentError),
    Resolution(PayloadError),
    Failed(api::Failure),
}

impl Problem {
    /// The problem in `lang`: the bedside's words for each field's problem.
    fn text(&self, lang: Lang) -> String {
        match self {
            Self::Comment(CommentError::Blank) => ct(lang, Ct::CommentBlank).to_owned(),
            Self::Comment(CommentError::TooLong { length }) => format!(
                "{} ({length} / {})",
                ct(lang, Ct::CommentTooLong),
                trial::crf::MAX_TEXT_CHARS
            ),
            Self::Resolution(PayloadError::Invalid { errors, .. }) => errors
                .iter()
                .map(|error| field_error(lang, error))
                .collect::<Vec<_>>()
                .join(" "),
            Self::Resolution(other) => format!("{} {other}", ct(lang, Ct::Failed)),
            Self::Failed(failure) => failure_message(lang, failure, Ct::SessionEnded),
        }
    }
}
