//! What a task waits on, for deadlock reports, from tokio's own resource
//! instrumentation.
//!
//! tokio built with `--cfg tokio_unstable` and its `tracing` feature (what
//! tokio-console reads) opens a `runtime.resource` span for each `Mutex`,
//! `RwLock`, `Semaphore`, `Barrier` and oneshot channel, with the place it
//! was created, and emits a `runtime::resource::poll_op` event each time
//! one of their futures is polled, saying whether it is ready. When such a
//! poll is pending inside a simulation, this layer tells the runtime
//! (`Handle::note_wait`), so a deadlock report names the primitive and its
//! creation site instead of "a future outside sim". Installed with the log
//! capture, it costs nothing on the runs that pass.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context;

/// The layer (see the module docs).
pub(crate) struct ResourceWaits;

/// Whether the layer wants to see this span or event.
pub(crate) fn wanted(meta: &Metadata<'_>) -> bool {
    meta.name().starts_with("runtime.resource") || meta.target() == POLL_OP
}

const POLL_OP: &str = "runtime::resource::poll_op";

/// A tokio resource: its type and where it was created.
#[derive(Default)]
struct Resource {
    concrete_type: String,
    file: Option<String>,
    line: u64,
    col: u64,
}

/// An operation on a resource (`Mutex::lock`, `Receiver::await`).
#[derive(Default)]
struct AsyncOp {
    source: String,
}

impl Visit for Resource {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "concrete_type" => self.concrete_type = value.to_owned(),
            "loc.file" => self.file = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "loc.line" => self.line = value,
            "loc.col" => self.col = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.unsigned_abs());
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

impl Visit for AsyncOp {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "source" {
            self.source = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "source" {
            self.source = format!("{value:?}").trim_matches('"').to_owned();
        }
    }
}

/// Whether a poll event says "pending".
#[derive(Default)]
struct Pending(bool);

impl Visit for Pending {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "is_ready" {
            self.0 = !value;
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

impl<S> Layer<S> for ResourceWaits
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        match attrs.metadata().name() {
            "runtime.resource" => {
                let mut resource = Resource::default();
                attrs.record(&mut resource);
                span.extensions_mut().insert(resource);
            }
            "runtime.resource.async_op" => {
                let mut op = AsyncOp::default();
                attrs.record(&mut op);
                span.extensions_mut().insert(op);
            }
            _ => {}
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != POLL_OP {
            return;
        }
        let mut pending = Pending::default();
        event.record(&mut pending);
        if !pending.0 {
            return;
        }
        // The event is inside the poll span, inside the operation's span,
        // inside the resource's span.
        let Some(poll) = ctx.event_span(event) else {
            return;
        };
        let Some(op) = poll.parent() else { return };
        let Some(resource) = op.parent() else { return };
        let (op, resource) = (op.extensions(), resource.extensions());
        let (Some(op), Some(resource)) = (op.get::<AsyncOp>(), resource.get::<Resource>()) else {
            return;
        };
        let what = describe(resource, op);
        if let Some(handle) = context::current_quiet() {
            handle.note_wait(intern(what), None);
        }
    }
}

/// `a tokio::sync::Mutex (Mutex::lock) created at src/lib.rs:12:17`.
fn describe(resource: &Resource, op: &AsyncOp) -> String {
    let kind = match resource.concrete_type.as_str() {
        "Sender|Receiver" => "oneshot channel",
        other => other,
    };
    let mut what = format!("a tokio::sync {kind} ({})", op.source);
    if let Some(file) = &resource.file {
        what.push_str(&format!(
            " created at {file}:{}:{}",
            resource.line, resource.col
        ));
    }
    what
}

/// The descriptions live as long as the process: one per place a resource
/// is created and operation, so a handful.
fn intern(what: String) -> &'static str {
    static SEEN: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = seen.get(what.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(what.into_boxed_str());
    seen.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_primitive_and_where_it_was_made() {
        let resource = Resource {
            concrete_type: "Mutex".into(),
            file: Some("src/lib.rs".into()),
            line: 12,
            col: 17,
        };
        let op = AsyncOp {
            source: "Mutex::lock".into(),
        };
        assert_eq!(
            describe(&resource, &op),
            "a tokio::sync Mutex (Mutex::lock) created at src/lib.rs:12:17"
        );
        let internal = Resource {
            concrete_type: "Sender|Receiver".into(),
            ..Resource::default()
        };
        let recv = AsyncOp {
            source: "Receiver::await".into(),
        };
        assert_eq!(
            describe(&internal, &recv),
            "a tokio::sync oneshot channel (Receiver::await)"
        );
        let a = intern("x".to_owned());
        assert!(std::ptr::eq(a, intern("x".to_owned())));
    }
}
