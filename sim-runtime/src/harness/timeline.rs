//! The timeline of a run: one self-contained HTML page (a lane per node,
//! virtual time downward, messages as arrows, faults as bands, log lines,
//! the failure) and the same data as JSON, written beside the log file.
//!
//! It is built after the run from the full trace, the notes layers left
//! (`Handle::note`: which send a message is, when each copy arrives, pauses,
//! preemptions) and the captured log lines. The run is recorded in full
//! only when a timeline is wanted (the re-run of a failing seed, or every
//! run under `SIM_TIMELINE=all`), and recording changes nothing in the run:
//! notes never enter the fingerprint.
//!
//! The JSON format (`"format": "sim-timeline", "version": 1`) is documented
//! in the README; every time is virtual nanoseconds since the start, every
//! node and task an id into `nodes` and `tasks`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::log::Captured;
use crate::failure::Failure;
use crate::trace::{Decision, Event, EventKind, Note, TaskRecord, describe_custom};

/// The page: styles, script and the data slot, filled by [`html`].
const PAGE: &str = include_str!("timeline.html");
/// Where the page takes its data.
const SLOT: &str = "/*SIM_TIMELINE_DATA*/";

/// What a timeline is built from.
pub(crate) struct Input<'a> {
    pub(crate) test: &'a str,
    pub(crate) seed: u64,
    pub(crate) fingerprint: u64,
    pub(crate) end_ns: u64,
    pub(crate) events: &'a [Event],
    pub(crate) notes: &'a [Note],
    pub(crate) tasks: &'a [TaskRecord],
    pub(crate) nodes: &'a [std::rc::Rc<str>],
    pub(crate) logs: &'a [Captured],
    pub(crate) failure: Option<&'a Failure>,
    /// The trace stopped at its limit: what follows is not drawn.
    pub(crate) cut: bool,
}

/// The JSON document (see the README for each field).
#[derive(Debug, Serialize)]
pub(crate) struct Doc {
    format: &'static str,
    version: u32,
    test: String,
    seed: String,
    fingerprint: String,
    outcome: &'static str,
    end_ns: u64,
    events: u64,
    /// The trace was cut at this many events (a run too long to draw whole).
    cut_at: Option<u64>,
    nodes: Vec<NodeOut>,
    tasks: Vec<TaskOut>,
    messages: Vec<Message>,
    bands: Vec<Band>,
    markers: Vec<Marker>,
    logs: Vec<LogOut>,
    decisions: Vec<DecisionOut>,
    failure: Option<FailureOut>,
}

#[derive(Debug, Serialize)]
struct NodeOut {
    id: u32,
    name: String,
}

#[derive(Debug, Serialize)]
struct TaskOut {
    id: u64,
    node: u32,
    name: Option<String>,
    spawned_at: String,
    spawn_ns: u64,
    end_ns: Option<u64>,
    /// `completed`, `cancelled` or `panicked`; `None` while alive at the end.
    end: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct Message {
    id: u64,
    /// `udp` or `tcp`.
    proto: &'static str,
    /// `data` (a datagram or a segment of bytes), `fin`, `rst` or `syn`.
    kind: &'static str,
    from: u32,
    to: u32,
    send_ns: u64,
    /// The send's event index in the trace.
    event: u64,
    /// The sending task, when a task sent it.
    task: Option<u64>,
    len: u64,
    /// The 32-bit payload hash of the send event, as 8 hex digits.
    hash: Option<String>,
    /// The payload's first bytes (up to 8), as hex.
    head: Option<String>,
    /// When each copy arrives at the receiving node (two for a duplicate).
    arrivals: Vec<u64>,
    /// Why it never arrived: `loss` (drawn), `partition`, `rule` (a
    /// per-packet rule), `no socket`
    /// (nothing bound there when it was sent), `receiver closed` (its node
    /// killed or the connection reset on the way), `buffer full`, `not its
    /// peer` (a connected UDP socket).
    lost: Option<&'static str>,
    duplicated: bool,
}

#[derive(Debug, Serialize)]
struct Band {
    /// `down` (killed until restarted), `paused`, `partition`, `isolated`, `hold`.
    kind: &'static str,
    node: u32,
    /// The other end, for a partition or a hold.
    peer: Option<u32>,
    from_ns: u64,
    /// `None`: until the end of the run.
    to_ns: Option<u64>,
    label: String,
}

#[derive(Debug, Serialize)]
struct Marker {
    /// `kill`, `restart`, `pause`, `resume`, `clock`, `nemesis`, `history`,
    /// `net` (partitions, heals, holds), `timer`, `task` or `custom`.
    kind: &'static str,
    node: Option<u32>,
    ns: u64,
    event: u64,
    label: String,
}

#[derive(Debug, Serialize)]
struct LogOut {
    ns: u64,
    node: Option<u32>,
    task: Option<u64>,
    level: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct DecisionOut {
    ns: u64,
    /// The decision's event index (`None` for a preemption, a note).
    event: Option<u64>,
    /// `preemption`, `loss`, `duplicate`, `buggify`, `buggify-site`,
    /// `select`, `nemesis`.
    what: &'static str,
    node: Option<u32>,
    task: Option<u64>,
    label: String,
}

#[derive(Debug, Serialize)]
struct FailureOut {
    ns: u64,
    kind: &'static str,
    message: String,
    node: Option<u32>,
    task: Option<u64>,
    location: Option<String>,
}

/// Which task's code is running at each event: the last one polled.
struct Running {
    task: Option<u64>,
    node: Option<u32>,
}

/// Builds the document.
pub(crate) fn build(input: &Input<'_>) -> Doc {
    let names: Vec<String> = input.nodes.iter().map(|n| n.to_string()).collect();
    let name = |id: u64| {
        names
            .get(id as usize)
            .map_or_else(|| format!("node#{id}"), |n| format!("`{n}`"))
    };
    let node_of: BTreeMap<u64, u32> = input
        .tasks
        .iter()
        .map(|t| (t.task.as_u64(), t.node))
        .collect();
    let mut tasks: BTreeMap<u64, TaskOut> = input
        .tasks
        .iter()
        .map(|t| {
            let out = TaskOut {
                id: t.task.as_u64(),
                node: t.node,
                name: t.name.as_deref().map(str::to_owned),
                spawned_at: t.at.to_string(),
                spawn_ns: 0,
                end_ns: None,
                end: None,
            };
            (t.task.as_u64(), out)
        })
        .collect();

    // Notes by the event they follow; messages' ids by their send event.
    let mut msg_of_event: BTreeMap<u64, u64> = BTreeMap::new();
    let mut arrivals: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut lost: BTreeMap<u64, &'static str> = BTreeMap::new();
    let mut duplicated: Vec<u64> = Vec::new();
    let mut heads: BTreeMap<u64, u64> = BTreeMap::new();
    let mut dropped: BTreeMap<u64, &'static str> = BTreeMap::new();
    let mut decisions = Vec::new();
    let mut bands: Vec<Band> = Vec::new();
    let mut markers: Vec<Marker> = Vec::new();
    for note in input.notes {
        match note.what {
            "net.msg" => {
                msg_of_event.insert(note.after.saturating_sub(1), note.a);
            }
            // A held copy is noted again at its release: the last note stands.
            "net.arrive" => {
                arrivals
                    .entry(note.a >> 1)
                    .or_default()
                    .insert(note.a & 1, note.b);
            }
            "net.lost" => {
                let why = match note.b {
                    0 => "loss",
                    1 => "partition",
                    2 => "no socket",
                    _ => "rule",
                };
                lost.insert(note.a, why);
            }
            "net.head" => {
                heads.insert(note.a, note.b);
            }
            "net.dup" => duplicated.push(note.a),
            // A copy on its way dropped: its arrival is taken back.
            "net.drop" => {
                if let Some(copies) = arrivals.get_mut(&(note.a >> 1)) {
                    copies.remove(&(note.a & 1));
                }
                let why = match note.b {
                    0 => "receiver closed",
                    1 => "buffer full",
                    2 => "not its peer",
                    _ => "dropped by the test",
                };
                dropped.insert(note.a >> 1, why);
            }
            "preempt" => {
                let node = node_of.get(&note.a).copied();
                decisions.push(DecisionOut {
                    ns: note.nanos,
                    event: None,
                    what: "preemption",
                    node,
                    task: Some(note.a),
                    label: format!("preemption: task#{} runs instead", note.a),
                });
            }
            "node.pause" => {
                let node = note.a as u32;
                bands.push(Band {
                    kind: "paused",
                    node,
                    peer: None,
                    from_ns: note.nanos,
                    to_ns: None,
                    label: format!("node {} paused", name(note.a)),
                });
                markers.push(Marker {
                    kind: "pause",
                    node: Some(node),
                    ns: note.nanos,
                    event: note.after,
                    label: format!("node {} paused", name(note.a)),
                });
            }
            "node.resume" => {
                close(&mut bands, note.nanos, |b| {
                    b.kind == "paused" && b.node == note.a as u32
                });
                markers.push(Marker {
                    kind: "resume",
                    node: Some(note.a as u32),
                    ns: note.nanos,
                    event: note.after,
                    label: format!("node {} resumed", name(note.a)),
                });
            }
            _ => {}
        }
    }

    let mut running = Running {
        task: None,
        node: None,
    };
    let mut messages = Vec::new();
    for event in input.events {
        let (ns, index) = (event.nanos, event.index);
        match event.kind {
            EventKind::Polled { task } => {
                running.task = Some(task.as_u64());
                running.node = node_of.get(&task.as_u64()).copied();
            }
            EventKind::ClockAdvanced => {
                running.task = None;
                running.node = None;
            }
            EventKind::Spawned { task } => {
                if let Some(t) = tasks.get_mut(&task.as_u64()) {
                    t.spawn_ns = ns;
                }
            }
            EventKind::Completed { task }
            | EventKind::Cancelled { task }
            | EventKind::Panicked { task } => {
                if let Some(t) = tasks.get_mut(&task.as_u64()) {
                    if t.end.is_none() {
                        t.end_ns = Some(ns);
                        t.end = Some(match event.kind {
                            EventKind::Completed { .. } => "completed",
                            EventKind::Cancelled { .. } => "cancelled",
                            _ => "panicked",
                        });
                    }
                }
                if matches!(event.kind, EventKind::Panicked { .. }) {
                    markers.push(Marker {
                        kind: "task",
                        node: node_of.get(&task.as_u64()).copied(),
                        ns,
                        event: index,
                        label: format!("{task} panicked"),
                    });
                }
            }
            EventKind::TimerFired => markers.push(Marker {
                kind: "timer",
                node: None,
                ns,
                event: index,
                label: "timer fired".to_owned(),
            }),
            EventKind::Decision {
                what,
                domain,
                choice,
            } => {
                let what_name = match what {
                    Decision::Loss | Decision::Duplicate | Decision::Buggify => what.name(),
                    Decision::BuggifySite | Decision::Select | Decision::Nemesis => what.name(),
                    Decision::DiskCrash | Decision::DiskFault => what.name(),
                    // Latencies and schedules are not defaults to depart from
                    // (a preemption is noted by the executor); details follow
                    // the nemesis's own decision.
                    _ => continue,
                };
                if choice == 0 {
                    continue;
                }
                decisions.push(DecisionOut {
                    ns,
                    event: Some(index),
                    what: what_name,
                    node: running.node,
                    task: running.task,
                    label: EventKind::Decision {
                        what,
                        domain,
                        choice,
                    }
                    .to_string(),
                });
            }
            EventKind::Custom { what, a, b } => {
                let label = describe_custom(what, a, b, &name)
                    .unwrap_or_else(|| format!("{what} ({a}, {b})"));
                let (from, to) = ((a >> 32) as u32, (a & 0xffff_ffff) as u32);
                let message = |kind| Message {
                    id: msg_of_event.get(&index).copied().unwrap_or(0),
                    proto: "tcp",
                    kind,
                    from,
                    to,
                    send_ns: ns,
                    event: index,
                    task: running.task,
                    len: 0,
                    hash: None,
                    head: None,
                    arrivals: Vec::new(),
                    lost: None,
                    duplicated: false,
                };
                let mut mark = |kind, node: Option<u32>| {
                    markers.push(Marker {
                        kind,
                        node,
                        ns,
                        event: index,
                        label: label.clone(),
                    })
                };
                match what {
                    "net.tcp.syn" => messages.push(message("syn")),
                    "net.tcp.send" => messages.push(message("fin")),
                    "net.tcp.rst" => messages.push(message("rst")),
                    "node.kill" | "node.exit" => {
                        mark(
                            if what == "node.kill" { "kill" } else { "exit" },
                            Some(a as u32),
                        );
                        close(&mut bands, ns, |b| b.kind == "paused" && b.node == a as u32);
                        bands.push(Band {
                            kind: "down",
                            node: a as u32,
                            peer: None,
                            from_ns: ns,
                            to_ns: None,
                            label,
                        });
                    }
                    "node.restart" => {
                        mark("restart", Some(a as u32));
                        close(&mut bands, ns, |band| {
                            band.kind == "down" && band.node == a as u32
                        });
                    }
                    "node.clock" => mark("clock", Some(a as u32)),
                    // The disk's faults and crashes, on their node's lane.
                    "fs.fault" | "fs.crash" => mark("disk", Some(a as u32)),
                    "nemesis.strike" | "nemesis.heal" => mark("nemesis", None),
                    "history.invoke" | "history.answer" => mark("history", running.node),
                    "net.partition" => {
                        mark("net", Some(from));
                        for (node, peer) in [(from, to), (to, from)] {
                            bands.push(Band {
                                kind: "partition",
                                node,
                                peer: Some(peer),
                                from_ns: ns,
                                to_ns: None,
                                label: label.clone(),
                            });
                        }
                    }
                    "net.heal" => {
                        mark("net", Some(from));
                        close(&mut bands, ns, |band| {
                            band.kind == "partition"
                                && ((band.node == from && band.peer == Some(to))
                                    || (band.node == to && band.peer == Some(from)))
                        });
                    }
                    "net.heal_all" => {
                        mark("net", None);
                        close(&mut bands, ns, |band| band.kind == "partition");
                    }
                    "net.isolate" if b == 1 => {
                        mark("net", Some(a as u32));
                        bands.push(Band {
                            kind: "isolated",
                            node: a as u32,
                            peer: None,
                            from_ns: ns,
                            to_ns: None,
                            label,
                        });
                    }
                    "net.isolate" => {
                        mark("net", Some(a as u32));
                        close(&mut bands, ns, |band| {
                            band.kind == "isolated" && band.node == a as u32
                        });
                    }
                    "net.hold" if b == 1 => {
                        mark("net", Some(to));
                        bands.push(Band {
                            kind: "hold",
                            node: to,
                            peer: Some(from),
                            from_ns: ns,
                            to_ns: None,
                            label,
                        });
                    }
                    "net.hold" => {
                        mark("net", Some(to));
                        close(&mut bands, ns, |band| {
                            band.kind == "hold" && band.node == to && band.peer == Some(from)
                        });
                    }
                    _ => mark("custom", running.node),
                }
            }
            EventKind::Data { what, a, len, hash } => {
                let proto = match what {
                    "net.udp.send" => "udp",
                    "net.tcp.send" => "tcp",
                    _ => continue,
                };
                messages.push(Message {
                    id: msg_of_event.get(&index).copied().unwrap_or(0),
                    proto,
                    kind: "data",
                    from: (a >> 32) as u32,
                    to: (a & 0xffff_ffff) as u32,
                    send_ns: ns,
                    event: index,
                    task: running.task,
                    len,
                    hash: Some(format!("{hash:08x}")),
                    head: heads
                        .get(&msg_of_event.get(&index).copied().unwrap_or(0))
                        .map(|word| {
                            let bytes = word.to_le_bytes();
                            bytes[..(len.min(8) as usize)]
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect()
                        }),
                    arrivals: Vec::new(),
                    lost: None,
                    duplicated: false,
                });
            }
        }
    }
    for message in &mut messages {
        if let Some(copies) = arrivals.get(&message.id) {
            message.arrivals = copies.values().copied().collect();
        }
        message.lost = lost.get(&message.id).copied().or_else(|| {
            // Every copy dropped on the way or on arrival.
            message
                .arrivals
                .is_empty()
                .then(|| dropped.get(&message.id).copied())
                .flatten()
        });
        message.duplicated = duplicated.contains(&message.id);
    }
    decisions.sort_by_key(|d| d.ns);

    let node_id = |name: &str| names.iter().position(|n| n == name).map(|i| i as u32);
    let failure = input.failure.map(|failure| {
        let task = failure.task();
        let location = match failure.kind() {
            crate::FailureKind::Panic { location, .. } => location.clone(),
            _ => None,
        };
        FailureOut {
            ns: u64::try_from(failure.elapsed().as_nanos()).unwrap_or(u64::MAX),
            kind: failure.kind().name(),
            message: failure.kind().summary(),
            node: task.and_then(|t| node_id(t.node())),
            task: task.map(|t| t.id().as_u64()),
            location,
        }
    });
    let logs = input
        .logs
        .iter()
        .map(|line| LogOut {
            ns: line.nanos,
            node: line.at.map(|(node, _)| node),
            task: line.at.map(|(_, task)| task),
            level: line.level,
            text: line.text.clone(),
        })
        .collect();
    Doc {
        format: "sim-timeline",
        version: 1,
        test: input.test.to_owned(),
        seed: format!("{:#x}", input.seed),
        fingerprint: format!("{:#018x}", input.fingerprint),
        outcome: if input.failure.is_some() {
            "fail"
        } else {
            "pass"
        },
        end_ns: input.end_ns,
        events: input.events.len() as u64,
        cut_at: input.cut.then_some(input.events.len() as u64),
        nodes: names
            .iter()
            .enumerate()
            .map(|(id, name)| NodeOut {
                id: id as u32,
                name: name.clone(),
            })
            .collect(),
        tasks: tasks.into_values().collect(),
        messages,
        bands,
        markers,
        logs,
        decisions,
        failure,
    }
}

/// Ends the open bands `matches` picks at `ns`.
fn close(bands: &mut [Band], ns: u64, matches: impl Fn(&Band) -> bool) {
    for band in bands.iter_mut().filter(|b| b.to_ns.is_none()) {
        if matches(band) {
            band.to_ns = Some(ns);
        }
    }
}

/// The document as JSON.
pub(crate) fn json(doc: &Doc) -> String {
    serde_json::to_string(doc).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
}

/// The page with `json` inside. A `<` in JSON is only ever inside a string,
/// where `\u003c` means the same, so no `</script>` can end the data early.
pub(crate) fn html(json: &str) -> String {
    PAGE.replacen(SLOT, &json.replace('<', "\\u003c"), 1)
}

/// Writes `<stem>.json` and `<stem>.html` beside the log file `log`,
/// returning the HTML's path.
pub(crate) fn write(log: &Path, doc: &Doc) -> io::Result<PathBuf> {
    let json = json(doc);
    let html_path = log.with_extension("html");
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(log.with_extension("json"), &json)?;
    std::fs::write(&html_path, html(&json))?;
    Ok(html_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_the_data_inside_its_script() {
        let page = html(r#"{"text":"</script><b>"}"#);
        assert!(!page.contains("</script><b>"));
        assert!(page.contains(r#"{"text":"\u003c/script>\u003cb>"}"#));
        assert!(!page.contains(SLOT));
    }
}
