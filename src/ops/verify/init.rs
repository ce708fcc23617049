//! Check 2: every rendition's init segment declares stereo Opus at 48 kHz.

use super::{problem, Problem};
use crate::publish::Target;
use crate::station::{layout, Rendition};
use crate::time::{OPUS_FRAME, SAMPLE_RATE};

pub(super) fn check_init(target: &dyn Target, r: &Rendition) -> Option<Problem> {
    use mp4_atom::{Any, Codec, Decode};
    let key = layout::init(&r.id());
    let bytes = match target.get(&key) {
        Ok(Some(b)) => b,
        Ok(None) => return Some(problem(key, "missing: no player can start this rendition")),
        Err(e) => return Some(problem(key, format!("cannot be read: {e}"))),
    };
    let mut buf = bytes.as_slice();
    let mut moov = None;
    while !buf.is_empty() {
        match Any::decode(&mut buf) {
            Ok(Any::Moov(m)) => moov = Some(m),
            Ok(_) => {}
            Err(e) => return Some(problem(key, format!("cannot parse: {e}"))),
        }
    }
    let Some(moov) = moov else {
        return Some(problem(key, "no moov box"));
    };
    let Some(trak) = moov.trak.first() else {
        return Some(problem(key, "no track"));
    };
    let mut wrong = Vec::new();
    if trak.mdia.mdhd.timescale != SAMPLE_RATE {
        wrong.push(format!("timescale {}", trak.mdia.mdhd.timescale));
    }
    match trak.mdia.minf.stbl.stsd.codecs.first() {
        Some(Codec::Opus(o)) => {
            if o.dops.pre_skip != 0 {
                wrong.push(format!("PreSkip {}", o.dops.pre_skip));
            }
            if o.dops.output_channel_count != 2 {
                wrong.push(format!("{} channels", o.dops.output_channel_count));
            }
        }
        other => wrong.push(format!("sample entry {other:?}")),
    }
    let trex = moov.mvex.as_ref().and_then(|m| m.trex.first());
    if trex.map(|t| u64::from(t.default_sample_duration)) != Some(OPUS_FRAME) {
        wrong.push("default sample duration is not 960".into());
    }
    (!wrong.is_empty()).then(|| {
        problem(
            key,
            format!(
                "expected stereo Opus, timescale 48000, PreSkip 0, 960-sample packets; found {}",
                wrong.join(", ")
            ),
        )
    })
}
