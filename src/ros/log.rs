//! The node's logging as an rclcpp node's: every line it prints goes to the console in ROS's
//! format and to `/rosout` as an `rcl_interfaces/msg/Log`, so `rqt_console`, `ros2 topic echo
//! /rosout` and log collectors see it. A [`tracing_subscriber::Layer`] ([`RosLogLayer`]),
//! installed by `facerec_node`; the `facerec` command line keeps tracing's own format.
//!
//! What rcl and rcutils do, and what is done here:
//! - the logger name is the node's fully qualified name without the leading `/`, with `.` for
//!   `/` (`facerec`, `robot.facerec`: `rcl_node_get_logger_name`); every event of this crate is
//!   logged under it (an rclcpp node's `get_logger()`); other crates' events under their target
//!   with `.` for `::` (`rustdds.discovery`), to the console only, as rcl publishes only node
//!   loggers on `/rosout`;
//! - severities DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50 (`tracing`'s TRACE has none: it is
//!   shown, as DEBUG, only when `RUST_LOG` asks for it; nothing here logs FATAL);
//! - levels from `--ros-args --log-level LEVEL` (the default) and `--log-level NAME:=LEVEL` (a
//!   logger and its descendants, `a.b` inheriting from `a` as in rcutils); the DDS stack
//!   (`rustdds`, `ros2_client`), which is chatty about every peer it meets, logs errors only
//!   unless a rule names it; `RUST_LOG`, when set, decides instead (for developers);
//! - the console line follows `RCUTILS_CONSOLE_OUTPUT_FORMAT` (default `[{severity}] [{time}]
//!   [{name}]: {message}`; tokens `{severity}`, `{name}`, `{message}`, `{function_name}`,
//!   `{file_name}`, `{line_number}`, `{time}`, `{time_as_nanoseconds}`; an unknown token is
//!   printed as it is, as rcutils does), goes to stderr (stdout with
//!   `RCUTILS_LOGGING_USE_STDOUT=1`), coloured by severity on a terminal or with
//!   `RCUTILS_COLORIZED_OUTPUT=1` (`0` never);
//! - `/rosout`: the message's `stamp` is the system time of the event, `file` and `line` the
//!   source location, `function` the Rust module path (Rust has no function name at run time).
//!   `--disable-rosout-logs` / `--disable-stdout-logs` turn either side off.
//!
//! The layer never blocks and never touches DDS: a line for `/rosout` goes into a bounded queue
//! ([`ROSOUT_QUEUE`] lines; a full queue drops the line and counts it), and a thread started by
//! [`attach`] once the node has its `/rosout` publisher publishes them. Lines logged before that
//! (the node's start) wait in the queue, so they are published too. Nothing logged while
//! publishing can loop back: DDS crates are never published, and this module's own events (the
//! publisher thread's warnings) are kept off `/rosout`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::ros::msgs::{Log, Time};
use crate::ros::params::RosArgs;

/// Lines that may wait for the `/rosout` publisher (rcl's rosout publisher keeps 1000 too).
pub const ROSOUT_QUEUE: usize = 1000;

/// The crate whose events are the node's own.
const OWN_CRATE: &str = "facerec";
/// This module's target: its events (the publisher thread's) are never published.
const OWN_TARGET: &str = module_path!();
/// Crates that log errors only unless a `--log-level` rule names them.
const QUIET_CRATES: [&str; 2] = ["rustdds", "ros2_client"];

/// An rcutils log severity (`rcl_interfaces/msg/Log` levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
    Fatal = 50,
}

impl Severity {
    /// A `tracing` level's severity; TRACE, which ROS has not, is shown as DEBUG.
    pub fn from_level(level: Level) -> Self {
        match level {
            Level::TRACE | Level::DEBUG => Self::Debug,
            Level::INFO => Self::Info,
            Level::WARN => Self::Warn,
            Level::ERROR => Self::Error,
        }
    }

    /// The value of the `level` field of `rcl_interfaces/msg/Log`.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// rcutils' name (`{severity}`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }

    /// A `--log-level` name, case-insensitive (`warning` too, as `RosArgs` accepts it);
    /// `Ok(None)` for `unset`.
    pub fn parse(name: &str) -> Result<Option<Self>, String> {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Ok(Some(Self::Debug)),
            "info" => Ok(Some(Self::Info)),
            "warn" | "warning" => Ok(Some(Self::Warn)),
            "error" => Ok(Some(Self::Error)),
            "fatal" => Ok(Some(Self::Fatal)),
            "unset" => Ok(None),
            other => Err(format!("unknown log level '{other}'")),
        }
    }

    /// The least verbose `tracing` filter that lets this severity through.
    fn level_filter(self) -> LevelFilter {
        match self {
            Self::Debug => LevelFilter::DEBUG,
            Self::Info => LevelFilter::INFO,
            Self::Warn => LevelFilter::WARN,
            Self::Error => LevelFilter::ERROR,
            // Nothing is logged at FATAL: a FATAL threshold lets nothing through.
            Self::Fatal => LevelFilter::OFF,
        }
    }
}

/// The logger name of the node `fqn` (`/robot/facerec` -> `robot.facerec`), as rcl makes it.
pub fn logger_name(fqn: &str) -> String {
    fqn.trim_start_matches('/').replace('/', ".")
}

/// The logger an event of `target` is logged under: the node's for this crate's events, the
/// target with `.` for `::` for other crates'.
fn logger_of<'a>(target: &str, node_logger: &'a str) -> std::borrow::Cow<'a, str> {
    if is_own(target) {
        std::borrow::Cow::Borrowed(node_logger)
    } else {
        std::borrow::Cow::Owned(target.replace("::", "."))
    }
}

fn is_own(target: &str) -> bool {
    target == OWN_CRATE
        || target
            .strip_prefix(OWN_CRATE)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// Logger levels from `--log-level`, looked up as rcutils does: the logger's own rule, else its
/// nearest ancestor's (`a.b.c`, `a.b`, `a`), else the default.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    default: Severity,
    /// (logger name, level); `None` is `unset` (inherit). Later rules win.
    rules: Vec<(String, Option<Severity>)>,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            default: Severity::Info,
            rules: Vec::new(),
        }
    }
}

impl Levels {
    /// The `--log-level` rules of a command line (already checked by [`RosArgs::parse`]).
    pub fn from_args(args: &RosArgs) -> Result<Self, String> {
        let mut levels = Self::default();
        for (logger, level) in &args.log_levels {
            let level = Severity::parse(level)?;
            match logger {
                // `--log-level unset` restores the default default (rcutils).
                None => levels.default = level.unwrap_or(Severity::Info),
                Some(name) => levels.rules.push((name.clone(), level)),
            }
        }
        Ok(levels)
    }

    /// The level rule set for exactly `name`, if any (`Some(None)`: set to `unset`).
    fn rule(&self, name: &str) -> Option<Option<Severity>> {
        self.rules
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, level)| *level)
    }

    /// The level in force for logger `name`.
    pub fn effective(&self, name: &str) -> Severity {
        let mut name = name;
        loop {
            if let Some(Some(level)) = self.rule(name) {
                return level;
            }
            match name.rfind('.') {
                Some(dot) => name = name.get(..dot).unwrap_or_default(),
                None => break,
            }
        }
        let quiet = QUIET_CRATES.iter().any(|c| name == c.replace("::", "."));
        if quiet {
            self.default.max(Severity::Error)
        } else {
            self.default
        }
    }

    /// The most verbose level any logger has.
    fn most_verbose(&self) -> Severity {
        self.rules
            .iter()
            .filter_map(|(_, level)| *level)
            .chain([self.default])
            .min()
            .unwrap_or(self.default)
    }
}

/// One piece of a console format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Severity,
    Name,
    Message,
    FunctionName,
    FileName,
    Time,
    TimeAsNanoseconds,
    LineNumber,
}

/// A console line format (`RCUTILS_CONSOLE_OUTPUT_FORMAT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleFormat {
    parts: Vec<Part>,
}

/// What rcutils prints by default.
pub const DEFAULT_FORMAT: &str = "[{severity}] [{time}] [{name}]: {message}";

impl Default for ConsoleFormat {
    fn default() -> Self {
        Self::parse(DEFAULT_FORMAT)
    }
}

/// One log line's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub severity: Severity,
    pub name: &'a str,
    pub message: &'a str,
    pub function: &'a str,
    pub file: &'a str,
    pub line: u32,
    /// Nanoseconds since the Unix epoch.
    pub stamp_ns: i64,
}

impl ConsoleFormat {
    /// Parses a format as rcutils does: `{token}` for a known token, anything else (an unknown
    /// `{word}`, a lone brace) as text.
    pub fn parse(format: &str) -> Self {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(open) = rest.find('{') {
            text.push_str(rest.get(..open).unwrap_or_default());
            let from_brace = rest.get(open..).unwrap_or_default();
            let token = from_brace
                .find('}')
                .and_then(|close| from_brace.get(1..close))
                .and_then(|name| Some((token_part(name)?, name.len() + 2)));
            match token {
                Some((part, used)) => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                    rest = from_brace.get(used..).unwrap_or_default();
                }
                None => {
                    text.push('{');
                    rest = from_brace.get(1..).unwrap_or_default();
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Self { parts }
    }

    /// The line for `record` (no newline).
    pub fn render(&self, record: &Record<'_>) -> String {
        let mut out = String::with_capacity(64 + record.message.len());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Severity => out.push_str(record.severity.label()),
                Part::Name => out.push_str(record.name),
                Part::Message => out.push_str(record.message),
                Part::FunctionName => out.push_str(record.function),
                Part::FileName => out.push_str(record.file),
                Part::LineNumber => {
                    let _ = write!(out, "{}", record.line);
                }
                Part::Time => {
                    // rcutils: "%.10" PRId64 ".%.9" PRId64 (seconds padded to 10 digits).
                    let sign = if record.stamp_ns < 0 { "-" } else { "" };
                    let abs = record.stamp_ns.unsigned_abs();
                    let _ = write!(out, "{sign}{:010}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000);
                }
                Part::TimeAsNanoseconds => {
                    // rcutils: "%.19" PRId64.
                    let sign = if record.stamp_ns < 0 { "-" } else { "" };
                    let _ = write!(out, "{sign}{:019}", record.stamp_ns.unsigned_abs());
                }
            }
        }
        out
    }
}

fn token_part(name: &str) -> Option<Part> {
    Some(match name {
        "severity" => Part::Severity,
        "name" => Part::Name,
        "message" => Part::Message,
        "function_name" => Part::FunctionName,
        "file_name" => Part::FileName,
        "time" => Part::Time,
        "time_as_nanoseconds" => Part::TimeAsNanoseconds,
        "line_number" => Part::LineNumber,
        _ => return None,
    })
}

/// Where and how console lines are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    pub format: ConsoleFormat,
    /// Colour by severity (rcutils' colours: DEBUG green, INFO plain, WARN yellow, ERROR red).
    pub color: bool,
    /// stdout instead of stderr.
    pub stdout: bool,
}

impl Console {
    /// From rcutils' environment variables, read through `env`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let format = env("RCUTILS_CONSOLE_OUTPUT_FORMAT")
            .filter(|f| !f.is_empty())
            .map_or_else(ConsoleFormat::default, |f| ConsoleFormat::parse(&f));
        let stdout = env("RCUTILS_LOGGING_USE_STDOUT").as_deref() == Some("1");
        let color = match env("RCUTILS_COLORIZED_OUTPUT").as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => {
                if stdout {
                    std::io::IsTerminal::is_terminal(&std::io::stdout())
                } else {
                    std::io::IsTerminal::is_terminal(&std::io::stderr())
                }
            }
        };
        Self { format, color, stdout }
    }

    /// The full console line for `record`, colour codes and newline included.
    pub fn line(&self, record: &Record<'_>) -> String {
        let text = self.format.render(record);
        if !self.color {
            return text + "\n";
        }
        let color = match record.severity {
            Severity::Debug => "\x1b[32m",
            Severity::Info => "\x1b[0m",
            Severity::Warn => "\x1b[33m",
            Severity::Error | Severity::Fatal => "\x1b[31m",
        };
        format!("{color}{text}\x1b[0m\n")
    }

    fn write(&self, line: &str) {
        // A console that cannot be written to is no reason to stop; there is nowhere to say so.
        if self.stdout {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        } else {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// The queue between the layer and the `/rosout` publisher thread (one per process, as the
/// layer is).
struct RosoutQueue {
    tx: SyncSender<Item>,
    /// Taken by the publisher thread while it runs.
    rx: Mutex<Option<Receiver<Item>>>,
    /// Lines dropped because the queue was full.
    dropped: AtomicU64,
}

enum Item {
    Line(Log),
    /// Wakes the publisher thread to look at its stop flag.
    Wake,
}

static ROSOUT: OnceLock<RosoutQueue> = OnceLock::new();

fn rosout_queue() -> &'static RosoutQueue {
    ROSOUT.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel(ROSOUT_QUEUE);
        RosoutQueue {
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
        }
    })
}

/// Lines the `/rosout` queue has dropped so far (full queue: the publisher fell behind, or no
/// node has attached a publisher).
pub fn rosout_dropped() -> u64 {
    ROSOUT.get().map_or(0, |q| q.dropped.load(Ordering::Relaxed))
}

thread_local! {
    /// Set while this thread is inside the layer: an event raised from there is not handled
    /// again (nothing in the layer logs today; this keeps it that way).
    static IN_LAYER: Cell<bool> = const { Cell::new(false) };
}

/// The `tracing` layer of `facerec_node`: console lines in ROS's format and `/rosout`.
#[derive(Debug)]
pub struct RosLogLayer {
    node_logger: String,
    /// `None`: another filter (`RUST_LOG`) decides what is logged.
    levels: Option<Levels>,
    console: Option<Console>,
    rosout: bool,
}

impl RosLogLayer {
    /// The layer for the node whose logger is `node_logger` ([`logger_name`]). `levels` `None`
    /// leaves filtering to a filter layered under it (`RUST_LOG`); `console` `None` is
    /// `--disable-stdout-logs`; `rosout` false is `--disable-rosout-logs`.
    pub fn new(node_logger: String, levels: Option<Levels>, console: Option<Console>, rosout: bool) -> Self {
        if rosout {
            rosout_queue();
        }
        Self {
            node_logger,
            levels,
            console,
            rosout,
        }
    }

    /// The layer a `facerec_node` command line and environment ask for: levels from
    /// `--log-level` unless `RUST_LOG` is set, the console from rcutils' variables, `/rosout`
    /// unless `--disable-rosout-logs`.
    pub fn from_args(args: &RosArgs, node_fqn: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let rust_log = env("RUST_LOG").is_some_and(|v| !v.is_empty());
        let levels = if rust_log { None } else { Some(Levels::from_args(args)?) };
        let console = (!args.disable_stdout_logs).then(|| Console::from_env(&env));
        Ok(Self::new(
            logger_name(node_fqn),
            levels,
            console,
            !args.disable_rosout_logs,
        ))
    }

    fn allows(&self, metadata: &Metadata<'_>) -> bool {
        let Some(levels) = &self.levels else {
            return true;
        };
        if *metadata.level() == Level::TRACE {
            return false;
        }
        let severity = Severity::from_level(*metadata.level());
        severity >= levels.effective(&logger_of(metadata.target(), &self.node_logger))
    }
}

/// `tracing-log` gives records of the `log` crate (RustDDS logs through it) this target; their
/// own target, file and line are fields.
const LOG_CRATE_TARGET: &str = "log";

impl<S: Subscriber> Layer<S> for RosLogLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.levels.is_none() || metadata.target() == LOG_CRATE_TARGET {
            Interest::sometimes()
        } else if self.allows(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // `log` records are asked about with their own target first (tracing-log), then
        // dispatched under the `log` target: let the second through.
        metadata.target() == LOG_CRATE_TARGET || self.allows(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.levels.as_ref().map(|l| l.most_verbose().level_filter())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if IN_LAYER.with(|busy| busy.replace(true)) {
            return;
        }
        self.handle(event);
        IN_LAYER.with(|busy| busy.set(false));
    }
}

impl RosLogLayer {
    fn handle(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = fields.log_target.as_deref().unwrap_or(meta.target());
        let file = fields.log_file.as_deref().or(meta.file()).unwrap_or_default();
        let line = fields.log_line.or(meta.line()).unwrap_or(0);
        let function = fields.log_module.as_deref().or(meta.module_path()).unwrap_or(target);
        let mut message = fields.message;
        message.push_str(&fields.extra);
        let stamp_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let name = logger_of(target, &self.node_logger);
        let record = Record {
            severity: Severity::from_level(*meta.level()),
            name: &name,
            message: &message,
            function,
            file,
            line,
            stamp_ns,
        };
        if let Some(console) = &self.console {
            console.write(&console.line(&record));
        }
        if self.rosout && is_own(target) && target != OWN_TARGET {
            let queue = rosout_queue();
            match queue.tx.try_send(Item::Line(log_message(&record))) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    queue.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The `rcl_interfaces/msg/Log` of a record.
pub fn log_message(record: &Record<'_>) -> Log {
    Log {
        stamp: Time {
            sec: i32::try_from(record.stamp_ns.div_euclid(1_000_000_000)).unwrap_or(i32::MAX),
            nanosec: u32::try_from(record.stamp_ns.rem_euclid(1_000_000_000)).unwrap_or(0),
        },
        level: record.severity.value(),
        name: record.name.to_owned(),
        msg: record.message.to_owned(),
        file: record.file.to_owned(),
        function: record.function.to_owned(),
        line: record.line,
    }
}

/// An event's fields: the message, `tracing-log`'s location fields, and the rest as
/// ` key=value` (as tracing's own format prints them).
#[derive(Default)]
struct Fields {
    message: String,
    extra: String,
    log_target: Option<String>,
    log_file: Option<String>,
    log_module: Option<String>,
    log_line: Option<u32>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "log.target" => self.log_target = Some(value.to_owned()),
            "log.file" => self.log_file = Some(value.to_owned()),
            "log.module_path" => self.log_module = Some(value.to_owned()),
            name => {
                let _ = write!(self.extra, " {name}={value:?}");
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "log.line" {
            self.log_line = u32::try_from(value).ok();
        } else {
            let _ = write!(self.extra, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            name if name.starts_with("log.") => {}
            name => {
                let _ = write!(self.extra, " {name}={value:?}");
            }
        }
    }
}

/// How long the publisher thread keeps publishing queued lines once told to stop.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// The `/rosout` publisher thread; stops (publishing what is queued, for at most a second)
/// when dropped.
#[derive(Debug)]
pub struct RosoutThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// Starts publishing the queued and future lines of the node with `publish` (one call per
/// line; an error is counted and reported on the console only). `None` when no
/// [`RosLogLayer`] with `/rosout` was installed, or another thread already publishes.
pub fn attach<E: std::fmt::Display>(
    mut publish: impl FnMut(Log) -> Result<(), E> + Send + 'static,
) -> Option<RosoutThread> {
    let queue = ROSOUT.get()?;
    let rx = queue.rx.lock().unwrap_or_else(PoisonError::into_inner).take()?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let spawned = std::thread::Builder::new()
        .name("facerec-rosout".to_owned())
        .spawn(move || {
            let mut failed = 0_u64;
            let mut dropped_seen = 0_u64;
            let mut stopping_since: Option<Instant> = None;
            loop {
                let item = if stopping_since.is_some() {
                    match rx.try_recv() {
                        Ok(item) => item,
                        Err(_) => break,
                    }
                } else {
                    match rx.recv() {
                        Ok(item) => item,
                        Err(_) => break,
                    }
                };
                if let Item::Line(log) = item {
                    if let Err(e) = publish(log) {
                        failed += 1;
                        if failed == 1 || failed.is_power_of_two() {
                            tracing::warn!("could not publish on /rosout ({failed} lines so far): {e}");
                        }
                    }
                }
                let dropped = queue.dropped.load(Ordering::Relaxed);
                if dropped > dropped_seen {
                    tracing::warn!(
                        "{} log lines not published on /rosout (queue full)",
                        dropped - dropped_seen
                    );
                    dropped_seen = dropped;
                }
                if thread_stop.load(Ordering::Acquire) {
                    let since = *stopping_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > DRAIN_LIMIT {
                        break;
                    }
                }
            }
            *queue.rx.lock().unwrap_or_else(PoisonError::into_inner) = Some(rx);
        });
    match spawned {
        Ok(handle) => Some(RosoutThread {
            stop,
            handle: Some(handle),
        }),
        Err(e) => {
            tracing::warn!("no /rosout: cannot start its thread: {e}");
            None
        }
    }
}

impl Drop for RosoutThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(queue) = ROSOUT.get() {
            // A full queue keeps the thread busy: it looks at the flag after each line.
            let _ = queue.tx.try_send(Item::Wake);
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(message: &str) -> Record<'_> {
        Record {
            severity: Severity::Warn,
            name: "robot.facerec",
            message,
            function: "facerec::ros::node",
            file: "src/ros/node.rs",
            line: 42,
            stamp_ns: 1_733_650_000_123_456_789,
        }
    }

    #[test]
    fn severities_are_rcutils_levels() {
        assert_eq!(Severity::from_level(Level::TRACE), Severity::Debug);
        let levels = [Level::DEBUG, Level::INFO, Level::WARN, Level::ERROR].map(|l| Severity::from_level(l).value());
        assert_eq!(levels, [10, 20, 30, 40]);
        assert_eq!(Severity::Fatal.value(), 50);
        let labels = [
            Severity::Debug,
            Severity::Info,
            Severity::Warn,
            Severity::Error,
            Severity::Fatal,
        ]
        .map(Severity::label);
        assert_eq!(labels, ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]);
        assert_eq!(Severity::parse("WARNING"), Ok(Some(Severity::Warn)));
        assert_eq!(Severity::parse("Fatal"), Ok(Some(Severity::Fatal)));
        assert_eq!(Severity::parse("unset"), Ok(None));
        assert!(Severity::parse("loud").is_err());
    }

    #[test]
    fn logger_names_are_rcl_s() {
        assert_eq!(logger_name("/facerec"), "facerec");
        assert_eq!(logger_name("/robot/head/facerec"), "robot.head.facerec");
        assert_eq!(
            logger_of("facerec::ros::node::services", "robot.facerec"),
            "robot.facerec"
        );
        assert_eq!(logger_of("facerec", "face"), "face");
        assert_eq!(logger_of("facerec_other::x", "face"), "facerec_other.x");
        assert_eq!(logger_of("rustdds::discovery", "face"), "rustdds.discovery");
    }

    #[test]
    fn default_format_is_rcutils_default() {
        let line = ConsoleFormat::default().render(&record("no camera yet"));
        assert_eq!(line, "[WARN] [1733650000.123456789] [robot.facerec]: no camera yet");
    }

    #[test]
    fn every_token_expands_and_unknown_ones_stay() {
        let f = ConsoleFormat::parse(
            "{severity}|{name}|{message}|{function_name}|{file_name}|{line_number}|{time}|{time_as_nanoseconds}|{date_time_with_ms}|{x",
        );
        assert_eq!(
            f.render(&record("m")),
            "WARN|robot.facerec|m|facerec::ros::node|src/ros/node.rs|42|1733650000.123456789|1733650000123456789|{date_time_with_ms}|{x"
        );
        // rcutils pads seconds to 10 and nanoseconds to 19 digits.
        let early = Record {
            stamp_ns: 100,
            ..record("m")
        };
        assert_eq!(
            ConsoleFormat::parse("{time} {time_as_nanoseconds}").render(&early),
            "0000000000.000000100 0000000000000000100"
        );
        // Braces around a known token, and a brace inside text.
        assert_eq!(
            ConsoleFormat::parse("{{name}} a{b").render(&record("m")),
            "{robot.facerec} a{b"
        );
        assert_eq!(ConsoleFormat::parse("").render(&record("m")), "");
    }

    #[test]
    fn console_settings_come_from_rcutils_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        let c = Console::from_env(env(&[
            (
                "RCUTILS_CONSOLE_OUTPUT_FORMAT",
                "[{severity}] {message} ({file_name}:{line_number})",
            ),
            ("RCUTILS_COLORIZED_OUTPUT", "0"),
            ("RCUTILS_LOGGING_USE_STDOUT", "1"),
        ]));
        assert!(c.stdout && !c.color);
        assert_eq!(c.line(&record("hi")), "[WARN] hi (src/ros/node.rs:42)\n");
        let colored = Console::from_env(env(&[("RCUTILS_COLORIZED_OUTPUT", "1")]));
        assert_eq!(colored.format, ConsoleFormat::default());
        assert!(!colored.stdout);
        assert_eq!(
            colored.line(&record("hi")),
            "\x1b[33m[WARN] [1733650000.123456789] [robot.facerec]: hi\x1b[0m\n"
        );
    }

    fn levels(line: &str) -> Levels {
        let args = RosArgs::parse(line.split_whitespace()).unwrap();
        Levels::from_args(&args).unwrap()
    }

    #[test]
    fn levels_follow_log_level_rules_and_logger_ancestry() {
        let plain = levels("");
        assert_eq!(plain.effective("facerec"), Severity::Info);
        assert_eq!(
            plain.effective("rustdds.discovery"),
            Severity::Error,
            "the DDS stack is quiet"
        );
        assert_eq!(plain.effective("ros2_client"), Severity::Error);
        assert_eq!(plain.effective("ort"), Severity::Info);
        assert_eq!(plain.most_verbose(), Severity::Info);

        let l = levels("--ros-args --log-level warn --log-level robot:=debug --log-level rustdds:=info");
        assert_eq!(l.effective("robot.facerec"), Severity::Debug, "inherited from robot");
        assert_eq!(l.effective("facerec"), Severity::Warn);
        assert_eq!(l.effective("rustdds.discovery"), Severity::Info, "a rule names it");
        assert_eq!(l.most_verbose(), Severity::Debug);

        let l = levels("--ros-args --log-level facerec:=DEBUG --log-level facerec:=unset --log-level error");
        assert_eq!(l.effective("facerec"), Severity::Error, "unset inherits the default");
        let l = levels("--ros-args --log-level fatal");
        assert_eq!(l.effective("facerec"), Severity::Fatal);
        assert_eq!(l.most_verbose().level_filter(), LevelFilter::OFF);
    }

    #[test]
    fn log_messages_carry_the_record() {
        let log = log_message(&record("hello"));
        assert_eq!((log.stamp.sec, log.stamp.nanosec), (1_733_650_000, 123_456_789));
        assert_eq!(log.level, 30);
        assert_eq!(
            (
                log.name.as_str(),
                log.msg.as_str(),
                log.file.as_str(),
                log.function.as_str(),
                log.line
            ),
            ("robot.facerec", "hello", "src/ros/node.rs", "facerec::ros::node", 42)
        );
    }

    #[test]
    fn the_layer_filters_and_queues_only_the_node_s_lines() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let layer = RosLogLayer::new(
            "robot.facerec".to_owned(),
            Some(levels("--ros-args --log-level warn")),
            None,
            true,
        );
        let subscriber = tracing_subscriber::registry().with(layer);
        let sent = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&sent);
        let thread = attach(move |log: Log| {
            sink.lock().unwrap().push(log);
            Ok::<(), String>(())
        })
        .expect("the layer made the queue and nothing else publishes");
        assert!(
            attach(|_| Ok::<(), String>(())).is_none(),
            "one publisher thread at a time"
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("below the level");
            tracing::warn!(camera = "/cam", "a warning");
            tracing::warn!(target: "rustdds::discovery", "not the node's");
            tracing::error!(target: "facerec::ros::log", "the publisher's own");
        });
        drop(thread);
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let log = &sent[0];
        assert_eq!((log.level, log.name.as_str()), (30, "robot.facerec"));
        assert_eq!(log.msg, "a warning camera=\"/cam\"");
        assert!(log.file.ends_with("log.rs"), "{}", log.file);
        assert!(log.line > 0);
        assert_eq!(log.function, "facerec::ros::log::tests");
        // The queue is free again for the next node of the process.
        assert!(attach(|_| Ok::<(), String>(())).is_some());
    }
}
