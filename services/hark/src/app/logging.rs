//! Structured logs through `tracing`: human-readable text or JSON lines on stdout.
//!
//! Log lines carry client-supplied values (conversation ids, paths, custom configuration), so
//! the text format escapes every control character in field values and messages: a newline or
//! an ANSI escape sent by a client can neither forge a log line nor repaint a terminal. JSON
//! lines are escaped by the JSON encoder.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::app::config::LogFormat;

/// The target of the audit log: who changed what a PCI or consent audit asks about (secure
/// pauses, do-not-record, recording and monitoring controls, Voice ID changes) — key ids or
/// token names, never secrets, never customer speaker ids.
pub const AUDIT: &str = "hark::audit";

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks a filter such as `info` or `warn,hark=debug`: every directive names a level
/// (`tracing` would take `verbose` for a target and log nothing).
pub fn parse_filter(filter: &str) -> Result<Targets, String> {
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "invalid log level {filter:?}: {level:?} is not one of {}",
                LEVELS.join(", ")
            ));
        }
    }
    filter
        .parse()
        .map_err(|e| format!("invalid log level {filter:?}: {e}"))
}

/// Installs the global subscriber; `filter` is a directive such as `info` or `warn,hark=debug`
/// (`RUST_LOG`, when set, takes its place). Colour only on a terminal.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| filter.to_owned());
    let targets = parse_filter(&filter)?;
    let registry = tracing_subscriber::registry().with(targets);
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colour)
                    .fmt_fields(EscapedFields),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))
}

/// Writes `text` with every control character escaped (`\n`, `\u{1b}`, ...).
pub fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            for e in c.escape_default() {
                out.write_char(e)?;
            }
        } else {
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// The text format's fields: `name=value` pairs separated by spaces, the message first as it
/// is, every value escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'w> MakeVisitor<Writer<'w>> for EscapedFields {
    type Visitor = EscapedVisitor<'w>;

    fn make_visitor(&self, target: Writer<'w>) -> Self::Visitor {
        EscapedVisitor {
            writer: target,
            first: true,
            result: Ok(()),
        }
    }
}

/// Writes one event's or span's fields, escaped.
#[derive(Debug)]
pub struct EscapedVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for EscapedVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let text = format!("{value:?}");
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = (|| {
            self.writer.write_str(separator)?;
            if field.name() != "message" {
                write!(self.writer, "{}=", field.name())?;
            }
            write_escaped(&mut self.writer, &text)
        })();
    }
}

impl VisitOutput<fmt::Result> for EscapedVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for EscapedVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_values_cannot_forge_lines_or_escape_sequences() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let hostile = "d1\n2026-12-03T00:00:00Z  INFO hark: admin logged in\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("call", conversation = %hostile);
            let _entered = span.enter();
            tracing::warn!(domain = %hostile, other = ?hostile, "voice id for {hostile}");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "one event, one line: {text:?}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("domain=d1\\n2026"), "{text:?}");
        assert!(text.contains("voice id for d1\\n"), "{text:?}");
        assert!(
            text.contains("conversation=d1\\n"),
            "span fields too: {text:?}"
        );
    }

    #[test]
    fn log_filters_must_name_levels() {
        assert!(parse_filter("info").is_ok());
        assert!(parse_filter("warn,hark=debug,hark::audit=info").is_ok());
        let e = parse_filter("verbose").unwrap_err();
        assert!(e.contains("\"verbose\" is not one of"), "{e}");
        assert!(parse_filter("hark=loud").is_err());
    }

    #[test]
    fn plain_values_are_written_as_they_are() {
        let mut out = String::new();
        write_escaped(&mut out, "call 42 — ok").unwrap();
        assert_eq!(out, "call 42 — ok");
    }
}
