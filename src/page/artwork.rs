//! The station image lock screens, notification shades and media-key
//! overlays show beside the title (Media Session artwork). A station that
//! sets no `player.artwork` gets one drawn here: a record on a dusk
//! gradient, its colours chosen from the station's name, so two stations
//! without artwork still look different. Drawn in code, so nothing is
//! downloaded and the bytes are the same on every run.

use crate::station::{ArtworkFormat, Station};

/// The drawn image's side in pixels: what lock screens ask for (iOS and
/// Android both show up to 512 x 512).
pub const SIDE: usize = 512;

/// The station's image: `(key, bytes, width, height, format)`.
pub struct Image {
    /// The object key it is published under.
    pub key: &'static str,
    /// PNG or JPEG bytes.
    pub bytes: Vec<u8>,
    /// `"512x512"`, as Media Session's `sizes` spells it.
    pub sizes: String,
    /// Its MIME type.
    pub mime: &'static str,
}

/// The configured artwork, or the drawn default.
pub fn image(station: &Station) -> Image {
    match &station.artwork {
        Some(a) => Image {
            key: a.format.key(),
            bytes: a.bytes.clone(),
            sizes: format!("{}x{}", a.width, a.height),
            mime: a.format.mime(),
        },
        None => Image {
            key: ArtworkFormat::Png.key(),
            bytes: draw(&station.name),
            sizes: format!("{SIDE}x{SIDE}"),
            mime: ArtworkFormat::Png.mime(),
        },
    }
}

/// Dusk palettes: (sky top, sky bottom, record label).
const PALETTES: [([f32; 3], [f32; 3], [f32; 3]); 6] = [
    ([0.12, 0.11, 0.23], [0.75, 0.42, 0.52], [0.96, 0.72, 0.45]),
    ([0.07, 0.13, 0.22], [0.36, 0.55, 0.62], [0.93, 0.83, 0.58]),
    ([0.16, 0.09, 0.18], [0.85, 0.52, 0.38], [0.55, 0.76, 0.70]),
    ([0.10, 0.15, 0.13], [0.58, 0.66, 0.46], [0.95, 0.65, 0.55]),
    ([0.09, 0.08, 0.16], [0.47, 0.40, 0.70], [0.98, 0.80, 0.62]),
    ([0.18, 0.12, 0.10], [0.80, 0.60, 0.42], [0.42, 0.58, 0.72]),
];

/// FNV-1a: a stable choice of palette from the station's name.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Coverage of an edge at signed distance `d` pixels (inside < 0), one
/// pixel wide: anti-aliasing without supersampling.
fn inside(d: f32) -> f32 {
    (0.5 - d).clamp(0.0, 1.0)
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

/// Draws the default artwork for a station named `name` as a PNG.
pub fn draw(name: &str) -> Vec<u8> {
    let h = name_hash(name);
    let (top, bottom, label) = PALETTES[(h % PALETTES.len() as u64) as usize];
    let c = SIDE as f32 / 2.0;
    let record_r = SIDE as f32 * 0.39;
    let label_r = SIDE as f32 * 0.13;
    let hole_r = SIDE as f32 * 0.012;
    let mut rgb = Vec::with_capacity(SIDE * SIDE * 3);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (fx, fy) = (x as f32 + 0.5 - c, y as f32 + 0.5 - c);
            let r = (fx * fx + fy * fy).sqrt();
            let sky = mix(top, bottom, (y as f32 / SIDE as f32).powf(1.3));
            // The record: near black with grooves (rings) and a sheen that
            // turns with the angle, as light falls on vinyl.
            let angle = fy.atan2(fx);
            let groove = 0.5 + 0.5 * (r * 0.9).sin();
            let sheen = (2.0 * angle + 0.6).cos().powi(8) * 0.10;
            let v = 0.06 + 0.025 * groove + sheen;
            let vinyl = [v, v, v * 1.1];
            let mut px = mix(sky, vinyl, inside(r - record_r));
            px = mix(px, label, inside(r - label_r));
            px = mix(px, sky, inside(r - hole_r));
            rgb.extend(px.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
        }
    }
    encode_png(&rgb)
}

fn encode_png(rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE as u32, SIDE as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(rgb).and_then(|()| w.finish()))
        .expect("image data of the size the header says, written into memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_artwork_is_a_png_of_its_side_and_differs_by_station() {
        let a = draw("lofiever demo");
        let size = imagesize::blob_size(&a).expect("a readable image");
        assert_eq!((size.width, size.height), (SIDE, SIDE));
        assert_eq!(
            imagesize::image_type(&a).ok(),
            Some(imagesize::ImageType::Png)
        );
        assert_eq!(a, draw("lofiever demo"), "the same bytes every run");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let distinct: std::collections::BTreeSet<Vec<u8>> = names.iter().map(|n| draw(n)).collect();
        assert!(distinct.len() >= 3, "palettes should vary with the name");
        // Decode it with the png crate and check the record is there: the
        // centre-left (vinyl) is dark, the corner (sky) is not black.
        let decoder = png::Decoder::new(std::io::Cursor::new(&a));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        reader.next_frame(&mut buf).expect("PNG data");
        let at = |x: usize, y: usize| {
            let i = (y * SIDE + x) * 3;
            u32::from(buf[i]) + u32::from(buf[i + 1]) + u32::from(buf[i + 2])
        };
        assert!(at(SIDE / 2 - SIDE / 4, SIDE / 2) < 3 * 80, "vinyl is dark");
        assert!(at(SIDE - 2, SIDE - 2) > 3 * 60, "the sky is lit");
    }
}
