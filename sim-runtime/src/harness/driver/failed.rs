//! The report of a failing run, step by step: record the run's tape,
//! shrink it, run the result again with logs on (and write its timeline),
//! say how to replay it, write the log file, save the regression. Each step
//! is a function; [`Harness::report`] is the sequence.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Harness, Origin, Record, Run, Spec};
use crate::explore::shrink::{self, Attempt};
use crate::explore::tape::{Entry, ReplayError, Tape, trim};
use crate::failure::{Failure, FailureKind, count};
use crate::harness::env::Timeline;
use crate::harness::report::{self, Saved};
use crate::harness::{DEFAULT_SHRINK_RUNS, FailedRun, Summary, Test, TestFailure, TestOutput, log};

impl<F, Fut> Harness<'_, F>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: TestOutput,
{
    /// The report of a failing run, in the order its steps run: record the
    /// run's tape, shrink it, run the result again with logs on (and its
    /// timeline), say how to replay it, write the log file, save the
    /// regression. Each step is a function below; what they leave to the
    /// report is gathered in [`FailedRun`].
    pub(super) fn report(
        &self,
        seed: u64,
        origin: Origin,
        spec: Spec,
        run: Run,
        summary: &Summary,
    ) -> TestFailure {
        let original = run
            .failure
            .as_ref()
            .expect("report is called for a failing run");
        let nondeterministic = matches!(
            original.kind(),
            FailureKind::Nondeterminism { .. } | FailureKind::TapeMismatch { .. }
        );
        let key = Self::failure_key(original);
        let mut notes = Notes::default();

        let recorded = self.record(seed, &spec, &run, nondeterministic, &mut notes);
        let shrunk = recorded
            .filter(|_| notes.is_empty())
            .map(|recorded| self.shrink(seed, origin, recorded, &key, &mut notes));
        let replay = self.replay_string(seed, shrunk.as_ref());
        let shown = self.rerun_with_logs(seed, &spec, &replay);
        let tape_string = Self::check_replay_string(&replay, &shown.run, &key, &mut notes);
        let (mut failure, fingerprint) = match shown.run.failure {
            // The shown run stands unless it was a replay string's that did not reproduce.
            Some(failure)
                if !nondeterministic && (replay.decoded.is_none() || tape_string.is_some()) =>
            {
                (failure, shown.run.fingerprint)
            }
            _ => (
                run.failure.expect("report is called for a failing run"),
                run.fingerprint,
            ),
        };
        let by_seed = matches!(spec, Spec::Random) || nondeterministic || tape_string.is_none();
        let tape_line = self.set_replay_command(
            &mut failure,
            seed,
            nondeterministic,
            by_seed,
            tape_string.as_deref(),
        );
        let shrink_line = shrunk
            .as_ref()
            .map(|s| s.line(shown.run.steps, shown.run.preemptions));
        let log_file = write_log_file(self.test, seed, &shown.log);
        let regressions = report::regression_file(self.test, self.settings);
        // A misuse fails every seed alike: there is no seed worth keeping.
        let misuse = failure.kind().misuse();
        let regression_saved = match misuse {
            Some(_) => None,
            None => self.save_regression(
                regressions.as_deref(),
                origin,
                by_seed,
                seed,
                tape_string.as_deref(),
                &failure,
            ),
        };
        TestFailure {
            inner: Box::new(FailedRun {
                test: self.test.id(),
                seed,
                strategy: spec.name(),
                seeds_passed: summary.seeds_passed.max(summary.schedules),
                from_regressions: regressions.filter(|_| origin == Origin::Regression),
                failure,
                fingerprint,
                log: shown.log,
                log_file,
                timeline: shown.timeline,
                log_filter: shown.log_filter,
                rerun_note: notes.0,
                regression_saved,
                misuse,
                tape: tape_string,
                tape_line,
                shrink_line,
            }),
        }
    }

    /// Report step 1: the failing run's tape (a replayed one is known; a
    /// nondeterministic run has none worth having), with a note when
    /// running the seed again ran differently.
    fn record(
        &self,
        seed: u64,
        spec: &Spec,
        run: &Run,
        nondeterministic: bool,
        notes: &mut Notes,
    ) -> Option<Recorded> {
        let recorded = match spec {
            Spec::Replay(entries) => Recorded {
                tape: trim(entries.clone()),
                fingerprint: run.fingerprint,
                steps: run.steps,
                preemptions: run.preemptions,
            },
            _ if nondeterministic => return None,
            _ => {
                let again = self.run_once(seed, spec, Record::Nothing, true);
                Recorded {
                    tape: trim(again.tape.unwrap_or_default()),
                    fingerprint: again.fingerprint,
                    steps: again.steps,
                    preemptions: again.preemptions,
                }
            }
        };
        if recorded.fingerprint != run.fingerprint {
            notes.add(format!(
                "running the seed again ran differently (fingerprint {:#x}, first run {:#x}): \
                 the test is not deterministic; run it with SIM_CHECK_DETERMINISM=1 to find where",
                recorded.fingerprint, run.fingerprint
            ));
        }
        Some(recorded)
    }

    /// Report step 2: the smallest tape that still fails the same way,
    /// within the shrinking budget and a 10 s wall-time cap (a note says
    /// when the cap cut the search). A replay is not shrunk.
    fn shrink(
        &self,
        seed: u64,
        origin: Origin,
        recorded: Recorded,
        key: &str,
        notes: &mut Notes,
    ) -> Shrunk {
        let budget = self.settings.shrink.unwrap_or(DEFAULT_SHRINK_RUNS);
        let original = (
            recorded.steps,
            recorded.preemptions,
            shrink::size(&recorded.tape).0,
        );
        if budget == 0 || matches!(origin, Origin::Replay) {
            return Shrunk {
                original,
                tape: recorded.tape,
                runs: 0,
            };
        }
        // A cap on wall time keeps a slow test from shrinking for ever;
        // when it cuts the search, the report says so.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut capped = false;
        let (tape, runs) =
            shrink::shrink(recorded.tape, key, budget, recorded.steps, |candidate| {
                if std::time::Instant::now() > deadline {
                    capped = true;
                    return None;
                }
                let attempt = self.run_once(
                    seed,
                    &Spec::Lenient(candidate.to_vec()),
                    Record::Nothing,
                    true,
                );
                Some(Attempt {
                    failure: attempt.failure.as_ref().map(Self::failure_key),
                    tape: attempt.tape.unwrap_or_default(),
                    steps: attempt.steps,
                })
            });
        if capped {
            notes.add("shrinking stopped at its 10 s wall-time cap".to_owned());
        }
        Shrunk {
            original,
            tape,
            runs,
        }
    }

    /// Report step 3: the replay string of the shrunk tape, and the tape it
    /// decodes to: the run shown is that tape's, so the string printed is
    /// the string checked.
    fn replay_string(&self, seed: u64, shrunk: Option<&Shrunk>) -> ReplayString {
        let text = shrunk.map(|s| {
            Tape {
                seed,
                test: Tape::tag(&self.test.id()),
                entries: s.tape.clone(),
            }
            .encode()
        });
        let decoded = text
            .as_deref()
            .map(|text| Tape::decode(text, &self.test.id()));
        ReplayString { text, decoded }
    }

    /// Report step 4: the run the report shows (the replay string's, or the
    /// original spec's), run again with its logs captured and, when a
    /// timeline is wanted, recorded in full and written out.
    fn rerun_with_logs(&self, seed: u64, spec: &Spec, replay: &ReplayString) -> Shown {
        let log_filter = self
            .settings
            .log
            .clone()
            .unwrap_or_else(|| "info".to_owned());
        // Recorded in full only when a timeline is wanted: passing runs
        // never pay for it, and recording changes nothing in the run.
        let record = match self.timeline() {
            Timeline::Off => Record::Nothing,
            _ => Record::Timeline,
        };
        let (guard, lines) = log::capture(&log_filter, false);
        let run = match &replay.decoded {
            Some(Ok(tape)) => {
                self.run_once(seed, &Spec::Replay(tape.entries.clone()), record, false)
            }
            _ => self.run_once(seed, spec, record, false),
        };
        drop(guard);
        let captured = log::take_lines(&lines);
        let timeline = self.write_timeline(seed, &run, &captured, run.failure.as_ref());
        let log = captured.into_iter().map(|c| c.line).collect();
        Shown {
            run,
            log,
            timeline,
            log_filter,
        }
    }

    /// Report step 5: how to replay the failure, by seed for the random
    /// strategy, by tape otherwise, set on `failure`; the replay string's
    /// command when the report replays by seed (shown beside it).
    fn set_replay_command(
        &self,
        failure: &mut Failure,
        seed: u64,
        nondeterministic: bool,
        by_seed: bool,
        tape_string: Option<&str>,
    ) -> Option<String> {
        let cargo = report::cargo_command(self.test);
        let check = if self.check_determinism() || nondeterministic {
            "SIM_CHECK_DETERMINISM=1 "
        } else {
            ""
        };
        let tape_command = tape_string.map(|t| format!("SIM_REPLAY={t} {cargo}"));
        match (&tape_command, by_seed) {
            (Some(tape), false) => failure.set_replay(tape.clone()),
            _ => failure.set_replay(format!("SIM_SEED={seed:#x} {check}{cargo}")),
        }
        if by_seed { tape_command } else { None }
    }

    /// Report step 7: the failure saved to the regression file, when it was
    /// found here (seeds and tapes given explicitly are known already); the
    /// file's path when it was written.
    fn save_regression(
        &self,
        regressions: Option<&Path>,
        origin: Origin,
        by_seed: bool,
        seed: u64,
        tape_string: Option<&str>,
        failure: &Failure,
    ) -> Option<PathBuf> {
        let saved = match origin {
            Origin::Range if by_seed => Saved::Seed(seed),
            Origin::Range | Origin::Search => Saved::Tape(tape_string?.to_owned()),
            _ => return None,
        };
        let path = regressions?;
        report::save_regression(path, self.test, &saved, &failure.kind().summary())
            .ok()
            .map(|()| path.to_owned())
    }

    /// Report step 4, continued: the replay string, unless replaying it did
    /// not fail as the run did (then a note says so, and the report replays
    /// by seed).
    fn check_replay_string(
        replay: &ReplayString,
        shown: &Run,
        key: &str,
        notes: &mut Notes,
    ) -> Option<String> {
        let text = replay.text.clone()?;
        let shown_key = shown.failure.as_ref().map(Self::failure_key);
        if matches!(replay.decoded, Some(Ok(_))) && shown_key.as_deref() == Some(key) {
            return Some(text);
        }
        let what = match (&replay.decoded, &shown_key) {
            (Some(Err(e)), _) => format!("does not decode ({e})"),
            (_, None) => "passed".to_owned(),
            (_, Some(k)) => format!("failed otherwise ({k})"),
        };
        notes.add(format!(
            "the replay string {text} {what} when replayed, so it is not given as the way \
             to replay: replay by seed instead; either the test is not deterministic \
             (SIM_CHECK_DETERMINISM=1 finds where) or sim has a bug (please report it)"
        ));
        None
    }
}

/// A shrunk tape, with the sizes of the run it came from.
struct Shrunk {
    /// Steps, preemptions and faults of the original run.
    original: (u64, u64, usize),
    tape: Vec<Entry>,
    runs: usize,
}

impl Shrunk {
    /// The report's line: the original run's sizes, the shown run's, and
    /// how many runs shrinking took.
    fn line(&self, steps: u64, preemptions: u64) -> String {
        let (from_steps, from_preemptions, from_faults) = self.original;
        format!(
            "{}, {}, {} -> {}, {}, {} ({})",
            count(from_steps, "step"),
            count(from_preemptions, "preemption"),
            count(from_faults as u64, "fault"),
            count(steps, "step"),
            count(preemptions, "preemption"),
            count(shrink::size(&self.tape).0 as u64, "fault"),
            count(self.runs as u64, "shrinking run"),
        )
    }
}

/// A failing run's tape, recorded for its report, with the sizes of the run.
struct Recorded {
    tape: Vec<Entry>,
    fingerprint: u64,
    steps: u64,
    preemptions: u64,
}

/// The replay string of a shrunk tape, and what it decodes back to.
struct ReplayString {
    text: Option<String>,
    decoded: Option<Result<Tape, ReplayError>>,
}

/// The run a report shows, with its log lines, the filter they were
/// captured with, and where its timeline was written.
struct Shown {
    run: Run,
    log: Vec<String>,
    timeline: Option<PathBuf>,
    log_filter: String,
}

/// The notes a report adds about its own reruns (a run that ran
/// differently, shrinking cut short, a replay string that did not replay),
/// joined with `; `.
#[derive(Default)]
struct Notes(Option<String>);

impl Notes {
    fn add(&mut self, note: String) {
        self.0 = Some(match self.0.take() {
            Some(earlier) => format!("{earlier}; {note}"),
            None => note,
        });
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// Report step 6: the shown run's log lines written to the test's log
/// file; its path, or `None` if writing failed (the log is an aid).
fn write_log_file(test: &Test, seed: u64, log: &[String]) -> Option<PathBuf> {
    let path = report::log_file(test, seed);
    std::fs::create_dir_all(path.parent().unwrap_or(&path))
        .and_then(|()| std::fs::write(&path, log.join("\n") + "\n"))
        .ok()
        .map(|()| path)
}
