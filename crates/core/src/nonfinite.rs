//! Non-finite floats as text: the one codec of ddmd-pipe.
//!
//! JSON has no NaN or infinity, and SQLite turns a NaN bound as REAL into NULL, so both the
//! event protocol (DESIGN §7) and the run database's `raw` column spell them `"NaN"`,
//! `"Infinity"`, `"-Infinity"`. Everything that writes such text uses [`encode`]; readers use
//! [`decode`] (exactly those spellings) or [`decode_lenient`] (what people type by hand).
//! `python/ddmd_events.py` writes the same three spellings (it cannot share this code).

pub const NAN: &str = "NaN";
pub const INFINITY: &str = "Infinity";
pub const NEG_INFINITY: &str = "-Infinity";

/// The text of a non-finite value; `None` for a finite one (which JSON and SQLite hold as a
/// number).
pub fn encode(v: f64) -> Option<&'static str> {
    if v.is_finite() {
        None
    } else if v.is_nan() {
        Some(NAN)
    } else if v > 0.0 {
        Some(INFINITY)
    } else {
        Some(NEG_INFINITY)
    }
}

/// Inverse of [`encode`]: exactly `NaN`, `Infinity` or `-Infinity`, else `None`.
pub fn decode(text: &str) -> Option<f64> {
    match text {
        NAN => Some(f64::NAN),
        INFINITY => Some(f64::INFINITY),
        NEG_INFINITY => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// The lenient reading, for text a person may have written (a hand-made database, an events
/// file from someone else's tool): surrounding spaces and ASCII case are ignored, and `inf`,
/// `+infinity`, `-inf` are understood. Reports read the `raw` column this way and always have;
/// `+inf` is deliberately not in the list (it never was, and a report must not change because
/// its reader moved), so callers that want it fall back to a number parser.
pub fn decode_lenient(text: &str) -> Option<f64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn encode_and_decode_round_trip() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let text = encode(v).expect("non-finite");
            assert!(same(decode(text), Some(v)), "{text}");
            assert!(same(decode_lenient(text), Some(v)), "{text}");
        }
        assert_eq!(encode(1.5), None);
        assert_eq!(encode(-0.0), None);
        assert_eq!(encode(f64::MAX), None);
    }

    #[test]
    fn decode_is_exact() {
        for text in [
            "nan",
            "NAN",
            " NaN",
            "inf",
            "infinity",
            "+Infinity",
            "1.5",
            "",
        ] {
            assert_eq!(decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn lenient_reading_accepts_case_spaces_and_short_forms() {
        for (text, want) in [
            (" nan ", Some(f64::NAN)),
            ("NAN", Some(f64::NAN)),
            (" INF ", Some(f64::INFINITY)),
            ("inf", Some(f64::INFINITY)),
            ("+Infinity", Some(f64::INFINITY)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("\t-INFINITY\n", Some(f64::NEG_INFINITY)),
            // Not in the list: the report has always read these as "no value".
            ("+inf", None),
            ("1.5", None),
            ("", None),
        ] {
            assert!(same(decode_lenient(text), want), "{text:?}");
        }
    }
}
