//! Per-simulation log capture: `tracing` events stamped with virtual time,
//! node and task.
//!
//! The subscriber is installed as the thread's default for one run only, so
//! tests running in parallel threads never mix their logs. Lines echoed to
//! stdout go through `println!`, which libtest captures per test: passing
//! tests stay quiet.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::context;
use crate::trace::FmtNanos;

/// The lines captured during one run.
pub(crate) type Lines = Arc<Mutex<Vec<Captured>>>;

/// One captured line, and where it happened (for the timeline).
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    /// The line as the report and the log file show it.
    pub(crate) line: String,
    /// Virtual time in nanoseconds.
    pub(crate) nanos: u64,
    /// The node and task that logged it, when a task was running.
    pub(crate) at: Option<(u32, u64)>,
    pub(crate) level: &'static str,
    /// The line after its stamp: spans, target, message and fields.
    pub(crate) text: String,
}

/// The lines of `captured`, as the report shows them.
pub(crate) fn take_lines(lines: &Lines) -> Vec<Captured> {
    std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Captures `tracing` output matching `filter` on this thread until the
/// guard drops; with `echo`, also prints each line.
pub(crate) fn capture(filter: &str, echo: bool) -> (DefaultGuard, Lines) {
    let lines = Lines::default();
    // The filter was validated when the settings were read.
    let filter = EnvFilter::builder()
        .parse(filter)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = SimLayer {
        lines: lines.clone(),
        echo,
    };
    // The log lines as the filter says; tokio's resource spans (trace
    // level) whatever it says, for deadlock reports (`waits.rs`).
    let resources = super::waits::ResourceWaits
        .with_filter(tracing_subscriber::filter::filter_fn(super::waits::wanted));
    let subscriber = Registry::default()
        .with(layer.with_filter(filter))
        .with(resources);
    install_listener();
    let guard = tracing::subscriber::set_default(subscriber);
    // Sites cached as "never" before this capture existed must reach it.
    tracing::callsite::rebuild_interest_cache();
    (guard, lines)
}

/// `tracing` caches, per call site and process-wide, whether anyone listens.
/// While exactly one dispatcher is alive (a capture, with no global
/// subscriber), `tracing` computes that answer from the default subscriber
/// of whichever thread first reaches the call site (tokio-rs/tracing#3611):
/// a site first reached on another thread (a test's own `std::thread`) is
/// cached as "never", and the capture on the simulation's thread misses it.
/// A second dispatcher kept alive for the whole process, interested in
/// everything and never set as anyone's default, makes `tracing` ask every
/// live dispatcher instead. It is not the global default, so a test binary
/// can still install its own.
fn install_listener() {
    static KEEPALIVE: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    KEEPALIVE.get_or_init(|| tracing::Dispatch::new(Sometimes));
}

/// The dispatcher kept alive by [`install_listener`]: interested, never enabled.
struct Sometimes;

impl Subscriber for Sometimes {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

struct SimLayer {
    lines: Lines,
    echo: bool,
}

impl<S> Layer<S> for SimLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let (now, task, at) =
            context::with_current(|h| (h.now_nanos(), h.running_label(), h.running_ids()))
                .unwrap_or((0, None, None));
        let mut line = format!("[{}] {:>5} ", FmtNanos(now), event.metadata().level());
        if let Some(task) = task {
            let _ = write!(line, "{task} ");
        }
        let mut text = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let _ = write!(text, "{}:", span.name());
            }
        }
        let _ = write!(text, "{}: ", event.metadata().target());
        let mut fields = Fields::default();
        event.record(&mut fields);
        text.push_str(&fields.message);
        text.push_str(&fields.rest);
        line.push_str(&text);
        if self.echo {
            println!("{line}");
        }
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Captured {
                line,
                nanos: now,
                at,
                level: event.metadata().level().as_str(),
                text,
            });
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_virtual_time_task_spans_and_fields() {
        let (guard, lines) = capture("debug", false);
        let mut rt = crate::Runtime::new(1);
        rt.block_on(async {
            crate::time::sleep(std::time::Duration::from_millis(1500)).await;
            crate::task::Builder::new()
                .name("worker")
                .spawn(async {
                    let span = tracing::info_span!("request", id = 7);
                    let _enter = span.enter();
                    tracing::info!(peer = "b", "sent {} bytes", 32);
                })
                .await
                .unwrap();
            tracing::trace!("filtered out");
        });
        drop(guard);
        let lines: Vec<String> = take_lines(&lines).into_iter().map(|c| c.line).collect();
        assert_eq!(
            lines.as_slice(),
            [
                "[1.500000000s]  INFO client task#2 `worker` request:sim_runtime::harness::log::tests: \
              sent 32 bytes peer=\"b\""
            ]
        );
    }
}
