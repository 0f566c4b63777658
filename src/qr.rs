//! Renders a WhatsApp pairing code (`2@…,noiseKey,identityKey,advSecret,1`) as a QR code: in the
//! terminal, as a PNG and as an SVG.
//!
//! All three renderings are the `qrcode` crate's own renderers (unicode half blocks, SVG, and `image`
//! luma pixels) over one encoded symbol, so they agree module for module, and all of them carry the
//! same quiet zone ([`QUIET_ZONE`]).
//!
//! Why error-correction level L: a pairing code is shown on a screen, not printed on something that
//! gets scratched, so the extra redundancy of M/Q/H buys nothing. L yields the fewest modules for the
//! payload: a 243-character pairing code needs 57 modules at L (65 columns with the quiet zone) but 81
//! at H (89 columns). That keeps the terminal rendering (one column per module) inside an 80-column
//! window, and makes each module bigger, hence easier for the phone's camera, at any on-screen size.

use image::{codecs::png::PngEncoder, ExtendedColorType, ImageEncoder, Luma};
use qrcode::render::{svg, unicode::Dense1x2};
use qrcode::{EcLevel, QrCode};

/// Light modules around the symbol on every side. Four is the minimum the QR specification (ISO/IEC
/// 18004) requires for reliable scanning: without it, a scanner can merge the finder patterns with
/// whatever surrounds the code (the terminal's own text, a dark window frame) and fail to lock on.
/// It is also what the `qrcode` crate's renderers draw around a (non-micro) QR code, which is the
/// only kind [`encode`] produces; the tests check every rendering against it.
pub const QUIET_ZONE: usize = 4;

/// Largest PNG side, in pixels, that [`png`] accepts. It guards against a caller's scale turning into
/// a multi-gigabyte allocation; 8192 px is far beyond what any screen or camera needs.
pub const MAX_PNG_SIDE: u32 = 8192;

/// Pixels per module of the SVG's nominal `width`/`height`. The `viewBox` is in module units, so the
/// SVG scales losslessly; this only sets the size a browser shows it at by default.
const SVG_PIXELS_PER_MODULE: usize = 8;

/// Why a pairing code could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("cannot encode this pairing code as a QR: {0}")]
    Encode(String),
    #[error("the terminal is {available} columns wide; the QR code needs {needed}. Widen the window (or reduce the font size), or pair by phone number with --phone +E164")]
    TooNarrow { needed: usize, available: usize },
    #[error("cannot write the PNG: {0}")]
    Png(String),
}

/// How the terminal QR is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStyle {
    /// Explicit ANSI colours: black modules on a white background, whatever the terminal's theme.
    Ansi,
    /// No escape codes (NO_COLOR, or not a colour terminal): dense half-block glyphs; light modules
    /// drawn as glyphs, dark ones as spaces, which scans on the usual dark-background terminal.
    Glyphs,
}

/// Sets black foreground on white background for the [`TerminalStyle::Ansi`] lines. It uses the
/// 256-colour palette entries 16 (#000000) and 231 (#ffffff) rather than the basic 8 colours, because
/// colour themes freely remap the basic ones (Solarized's "white" is beige, its "black" blue-grey)
/// and lose contrast, while themes almost never touch the 256-colour cube.
const ANSI_BLACK_ON_WHITE: &str = "\x1b[38;5;16;48;5;231m";
/// Resets all attributes, so nothing of the QR's colours leaks into the terminal after a line.
const ANSI_RESET: &str = "\x1b[0m";

/// Encodes at level L (see the module documentation for why).
fn encode(code: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(code.as_bytes(), EcLevel::L)
        .map_err(|e| QrError::Encode(e.to_string()))
}

/// Modules per side of `qr` including the quiet zone on both sides.
fn side(qr: &QrCode) -> usize {
    qr.width() + 2 * QUIET_ZONE
}

/// Draws the QR code for the terminal: one column per module and two module rows per text line (the
/// upper and lower halves of a character cell, with `▀`, `▄`, `█` and space, as the crate's
/// [`Dense1x2`] renderer draws them), so the modules come out roughly square in a typical 1:2
/// terminal font. Lines are joined with `\n` (no trailing newline); in the [`TerminalStyle::Ansi`]
/// style each line starts with its colours and ends with `\x1b[0m`.
///
/// With `columns` set to the terminal's width, a code wider than that returns
/// [`QrError::TooNarrow`] instead of a rendering that the terminal would wrap into an unscannable
/// mess.
pub fn terminal(code: &str, style: TerminalStyle, columns: Option<usize>) -> Result<String, QrError> {
    let qr = encode(code)?;
    let needed = side(&qr);
    if let Some(available) = columns {
        if needed > available {
            return Err(QrError::TooNarrow { needed, available });
        }
    }
    // Dark modules in ink: Ansi paints that ink black on a white background.
    let drawn = qr.render::<Dense1x2>().module_dimensions(1, 1).build();
    Ok(match style {
        TerminalStyle::Ansi => drawn
            .split('\n')
            .map(|line| format!("{ANSI_BLACK_ON_WHITE}{line}{ANSI_RESET}"))
            .collect::<Vec<_>>()
            .join("\n"),
        // Light modules in ink, the terminal's (usually light) foreground on its (usually dark)
        // background: the negative of the drawing, cell by cell. Inverting the cells rather than
        // swapping the renderer's colours keeps the half row under an odd-sized code light too.
        TerminalStyle::Glyphs => drawn.chars().map(negative).collect(),
    })
}

/// The half-block glyph that inks exactly the halves `glyph` leaves blank.
fn negative(glyph: char) -> char {
    match glyph {
        '█' => ' ',
        ' ' => '█',
        '▀' => '▄',
        '▄' => '▀',
        other => other,
    }
}

/// Terminal columns that [`terminal`] needs for this code: one per module, quiet zone included.
pub fn terminal_width(code: &str) -> Result<usize, QrError> {
    Ok(side(&encode(code)?))
}

/// Renders the QR code as an 8-bit grayscale PNG, `scale` pixels per module (0 is taken as 1), dark
/// modules 0 and light ones 255, quiet zone included. Grayscale is the smallest lossless format that
/// every viewer opens; the image is meant to be shown on a screen and scanned by the phone.
pub fn png(code: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let qr = encode(code)?;
    let scale = scale.max(1);
    // Checked before rendering, so an absurd scale never allocates.
    u32::try_from(side(&qr))
        .ok()
        .and_then(|side| side.checked_mul(scale))
        .filter(|&px| px <= MAX_PNG_SIDE)
        .ok_or_else(|| {
        QrError::Png(format!(
            "{} modules at {scale} pixels each exceed the {MAX_PNG_SIDE}-pixel maximum; use a smaller scale",
            side(&qr)
        ))
    })?;
    let image = qr.render::<Luma<u8>>().module_dimensions(scale, scale).build();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::L8)
        .map_err(|e| QrError::Png(e.to_string()))?;
    Ok(out)
}

/// Renders the QR code as a standalone SVG document with the crate's SVG renderer: a white square of
/// `side × side` units (quiet zone included, `viewBox="0 0 side side"`) with one black path made of
/// one unit square per dark module, `shape-rendering="crispEdges"` keeping module edges sharp when
/// scaled. The nominal `width`/`height` are [`SVG_PIXELS_PER_MODULE`] per module.
pub fn svg(code: &str) -> Result<String, QrError> {
    let qr = encode(code)?;
    let side = side(&qr);
    let doc = qr
        .render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Rendered in module units, the `<svg>` element's size equals its `viewBox`; its first
    // `width`/`height` pair (the background `<rect>` carries the second) becomes the nominal size.
    let px = side * SVG_PIXELS_PER_MODULE;
    Ok(doc.replacen(
        &format!(r#"width="{side}" height="{side}""#),
        &format!(r#"width="{px}" height="{px}""#),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::Color;

    /// Shaped like a real pairing code: ref, noise key, identity key, adv secret (base64), platform.
    const PAIRING: &str =
        "2@Qm9ZfW3k1tY8pXvL2rJcN5sHgA7dE0uKiOqRwTzBxCyMnPaSbFjGhIlUoVeD4f6+/Q8aWk2s9Lx3Rt==,\
        aGVsbG8gd29ybGQgbm9pc2Uga2V5IGZvciB0ZXN0cyAxMjM0NTY=,\
        aWRlbnRpdHkga2V5IGJhc2U2NCBmb3IgdGVzdHMgMTIzNDU2Nzg=,\
        YWR2IHNlY3JldCBiYXNlNjQgZm9yIHRlc3RzIDEyMzQ1Njc4OTA=,1";

    /// Modules per side of the symbol alone, straight from the encoder at level L.
    fn modules(code: &str) -> usize {
        QrCode::with_error_correction_level(code.as_bytes(), EcLevel::L).unwrap().width()
    }

    /// Dark/light of every module of the symbol alone, row-major.
    fn symbol(code: &str) -> Vec<bool> {
        let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::L).unwrap();
        qr.to_colors().into_iter().map(|c| c == Color::Dark).collect()
    }

    /// Turns a terminal rendering back into a quiet-zone-inclusive grid of "dark" flags.
    fn read_terminal(text: &str, style: TerminalStyle) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in text.split('\n') {
            let body = match style {
                TerminalStyle::Ansi => line
                    .strip_prefix(ANSI_BLACK_ON_WHITE)
                    .and_then(|l| l.strip_suffix(ANSI_RESET))
                    .expect("every Ansi line is wrapped in its colours and a reset"),
                TerminalStyle::Glyphs => line,
            };
            assert!(!body.contains('\x1b'), "stray escape code in {body:?}");
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for ch in body.chars() {
                let (t, b) = match ch {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected glyph {other:?}"),
                };
                // Glyphs draws light modules, Ansi dark ones.
                let ink_is_dark = style == TerminalStyle::Ansi;
                top.push(t == ink_is_dark);
                bottom.push(b == ink_is_dark);
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    fn check_terminal(style: TerminalStyle) {
        let n = modules(PAIRING);
        let side = n + 2 * QUIET_ZONE;
        let text = terminal(PAIRING, style, None).unwrap();
        assert_eq!(text.split('\n').count(), side.div_ceil(2), "two module rows per line");
        assert!(!text.ends_with('\n'));
        let rows = read_terminal(&text, style);
        for row in &rows {
            assert_eq!(row.len(), side, "every line is exactly one column per module wide");
        }
        let bits = symbol(PAIRING);
        for (y, row) in rows.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let in_symbol =
                    (QUIET_ZONE..QUIET_ZONE + n).contains(&x) && (QUIET_ZONE..QUIET_ZONE + n).contains(&y);
                let expected = in_symbol && bits[(y - QUIET_ZONE) * n + (x - QUIET_ZONE)];
                assert_eq!(dark, expected, "module ({x}, {y}) in {style:?}");
            }
        }
        // The quiet zone specifically: the first and last four module rows and columns are light.
        for y in (0..QUIET_ZONE).chain(side - QUIET_ZONE..side) {
            assert!(rows[y].iter().all(|&d| !d), "quiet-zone row {y} is light");
        }
        for row in rows.iter().take(side) {
            assert!(row[..QUIET_ZONE].iter().chain(&row[side - QUIET_ZONE..]).all(|&d| !d));
        }
    }

    #[test]
    fn terminal_ansi_round_trips_the_symbol_with_quiet_zone() {
        check_terminal(TerminalStyle::Ansi);
    }

    #[test]
    fn terminal_glyphs_round_trips_the_symbol_with_quiet_zone() {
        check_terminal(TerminalStyle::Glyphs);
    }

    #[test]
    fn terminal_glyphs_has_no_escape_codes_and_light_quiet_zone_is_full_blocks() {
        let text = terminal(PAIRING, TerminalStyle::Glyphs, None).unwrap();
        assert!(!text.contains('\x1b'));
        let side = modules(PAIRING) + 2 * QUIET_ZONE;
        let lines: Vec<&str> = text.split('\n').collect();
        // The first two lines are the top four quiet-zone rows: all light, so all full blocks.
        for line in &lines[..QUIET_ZONE / 2] {
            assert_eq!(*line, "█".repeat(side));
        }
    }

    #[test]
    fn terminal_ansi_lines_are_coloured_and_reset() {
        let text = terminal(PAIRING, TerminalStyle::Ansi, None).unwrap();
        let side = modules(PAIRING) + 2 * QUIET_ZONE;
        for line in text.split('\n') {
            assert!(line.starts_with(ANSI_BLACK_ON_WHITE));
            assert!(line.ends_with(ANSI_RESET));
        }
        // Top quiet zone: white background, no ink.
        let first = text.split('\n').next().unwrap();
        assert_eq!(first, format!("{ANSI_BLACK_ON_WHITE}{}{ANSI_RESET}", " ".repeat(side)));
    }

    #[test]
    fn terminal_width_is_modules_plus_both_quiet_zones() {
        assert_eq!(terminal_width(PAIRING).unwrap(), modules(PAIRING) + 8);
        assert_eq!(terminal_width("x").unwrap(), 21 + 8, "version 1 is 21 modules");
    }

    #[test]
    fn realistic_pairing_code_fits_an_80_column_terminal() {
        assert!((150..=250).contains(&PAIRING.len()), "fixture is pairing-code sized: {}", PAIRING.len());
        let width = terminal_width(PAIRING).unwrap();
        assert!(width <= 80, "needs {width} columns");
    }

    #[test]
    fn too_narrow_exactly_when_columns_are_fewer_than_needed() {
        let needed = terminal_width(PAIRING).unwrap();
        for style in [TerminalStyle::Ansi, TerminalStyle::Glyphs] {
            match terminal(PAIRING, style, Some(needed - 1)) {
                Err(QrError::TooNarrow { needed: n, available }) => {
                    assert_eq!((n, available), (needed, needed - 1));
                }
                other => panic!("expected TooNarrow, got {other:?}"),
            }
            assert!(terminal(PAIRING, style, Some(needed)).is_ok());
            assert!(terminal(PAIRING, style, Some(needed + 40)).is_ok());
        }
        let msg = QrError::TooNarrow { needed, available: needed - 1 }.to_string();
        assert!(
            msg.contains(&format!("{} columns wide", needed - 1)) && msg.contains(&format!("needs {needed}"))
        );
        assert!(msg.contains("--phone"));
    }

    #[test]
    fn uses_error_correction_level_l() {
        assert_eq!(encode(PAIRING).unwrap().error_correction_level(), EcLevel::L);
        // The same payload at H needs a strictly larger symbol, and ours matches L's size.
        let at_h = QrCode::with_error_correction_level(PAIRING.as_bytes(), EcLevel::H).unwrap().width();
        let ours = terminal_width(PAIRING).unwrap() - 2 * QUIET_ZONE;
        assert_eq!(ours, modules(PAIRING));
        assert!(ours < at_h, "L ({ours}) must be smaller than H ({at_h})");
    }

    #[test]
    fn oversized_payload_is_an_encode_error() {
        let huge = "A".repeat(8000); // beyond version 40 at any level
        assert!(matches!(terminal_width(&huge), Err(QrError::Encode(_))));
        assert!(matches!(png(&huge, 4), Err(QrError::Encode(_))));
        assert!(matches!(svg(&huge), Err(QrError::Encode(_))));
    }

    /// (width, height, bit depth, colour type) from the IHDR chunk, which must come first.
    fn ihdr(png: &[u8]) -> (u32, u32, u8, u8) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&png[8..12], &13u32.to_be_bytes(), "IHDR length");
        assert_eq!(&png[12..16], b"IHDR");
        let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
        (be(16), be(20), png[24], png[25])
    }

    #[test]
    fn png_header_is_8bit_grayscale_of_the_right_size() {
        let side = (modules(PAIRING) + 8) as u32;
        for scale in [1, 3, 8] {
            let bytes = png(PAIRING, scale).unwrap();
            assert_eq!(ihdr(&bytes), (side * scale, side * scale, 8, 0), "scale {scale}");
        }
        // Scale 0 is taken as 1.
        assert_eq!(ihdr(&png(PAIRING, 0).unwrap()).0, side);
    }

    #[test]
    fn png_pixels_match_modules_and_quiet_zone() {
        let scale = 3u32;
        let n = modules(PAIRING);
        let side = n + 2 * QUIET_ZONE;
        let img = image::load_from_memory_with_format(&png(PAIRING, scale).unwrap(), image::ImageFormat::Png)
            .unwrap()
            .into_luma8();
        let bits = symbol(PAIRING);
        let s = scale as usize;
        for (x, y, p) in img.enumerate_pixels() {
            let (mx, my) = (x as usize / s, y as usize / s);
            let in_symbol =
                (QUIET_ZONE..QUIET_ZONE + n).contains(&mx) && (QUIET_ZONE..QUIET_ZONE + n).contains(&my);
            let dark = in_symbol && bits[(my - QUIET_ZONE) * n + (mx - QUIET_ZONE)];
            assert_eq!(p.0[0], if dark { 0 } else { 255 }, "pixel ({x}, {y})");
        }
        assert_eq!(img.width() as usize, side * s);
    }

    #[test]
    fn png_refuses_absurd_scale() {
        assert!(matches!(png(PAIRING, u32::MAX), Err(QrError::Png(_))));
        assert!(matches!(png(PAIRING, MAX_PNG_SIDE), Err(QrError::Png(_))));
    }

    #[test]
    fn svg_is_standalone_with_quiet_zone_and_exact_modules() {
        let n = modules(PAIRING);
        let side = n + 2 * QUIET_ZONE;
        let doc = svg(PAIRING).unwrap();
        assert!(doc.starts_with("<?xml"));
        assert!(doc.contains(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(doc.trim_end().ends_with("</svg>"));
        assert!(doc.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        let px = side * SVG_PIXELS_PER_MODULE;
        assert!(doc.contains(&format!(r#"width="{px}" height="{px}""#)));
        assert!(
            doc.contains(&format!(r##"<rect x="0" y="0" width="{side}" height="{side}" fill="#ffffff"/>"##))
        );

        // Rebuild the dark modules from the path's "M{x} {y}h{w}v{h}H{x}V{y}" rectangles.
        let d = doc.split(r#" d=""#).nth(1).and_then(|rest| rest.split('"').next()).unwrap();
        let mut dark = vec![false; side * side];
        for seg in d.split('M').filter(|s| !s.is_empty()) {
            let (xy, rest) = seg.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let (w, rest) = rest.split_once('v').unwrap();
            let (h, rest) = rest.split_once('H').unwrap();
            let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
            assert_eq!(rest, format!("{x}V{y}"), "each rectangle closes where it started");
            for row in y..y + h {
                for cell in &mut dark[row * side + x..row * side + x + w] {
                    assert!(!*cell, "rectangles do not overlap");
                    *cell = true;
                }
            }
        }
        let bits = symbol(PAIRING);
        for y in 0..side {
            for x in 0..side {
                let in_symbol =
                    (QUIET_ZONE..QUIET_ZONE + n).contains(&x) && (QUIET_ZONE..QUIET_ZONE + n).contains(&y);
                let expected = in_symbol && bits[(y - QUIET_ZONE) * n + (x - QUIET_ZONE)];
                assert_eq!(dark[y * side + x], expected, "module ({x}, {y})");
            }
        }
    }
}
