use std::fmt;

/// One RTP payload format from an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub pt: u8,
    /// Encoding name as the peer wrote it, e.g. "PCMU" or "telephone-event".
    pub name: String,
    pub rate: u32,
    pub channels: u8,
}

impl Codec {
    pub fn new(pt: u8, name: &str, rate: u32) -> Codec {
        Codec {
            pt,
            name: name.to_string(),
            rate,
            channels: 1,
        }
    }

    pub fn pcmu() -> Codec {
        Codec::new(0, "PCMU", 8000)
    }

    pub fn pcma() -> Codec {
        Codec::new(8, "PCMA", 8000)
    }

    /// RFC 4733 events; `pt` is dynamic, 101 by convention.
    pub fn telephone_event(pt: u8) -> Codec {
        Codec::new(pt, "telephone-event", 8000)
    }

    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// The RFC 3551 static payload types a phone may list without an rtpmap.
    pub fn from_static_pt(pt: u8) -> Option<Codec> {
        let (name, rate, channels) = match pt {
            0 => ("PCMU", 8000, 1),
            3 => ("GSM", 8000, 1),
            4 => ("G723", 8000, 1),
            5 => ("DVI4", 8000, 1),
            6 => ("DVI4", 16000, 1),
            7 => ("LPC", 8000, 1),
            8 => ("PCMA", 8000, 1),
            9 => ("G722", 8000, 1),
            10 => ("L16", 44100, 2),
            11 => ("L16", 44100, 1),
            12 => ("QCELP", 8000, 1),
            13 => ("CN", 8000, 1),
            14 => ("MPA", 90000, 1),
            15 => ("G728", 8000, 1),
            16 => ("DVI4", 11025, 1),
            17 => ("DVI4", 22050, 1),
            18 => ("G729", 8000, 1),
            _ => return None,
        };
        Some(Codec {
            pt,
            name: name.to_string(),
            rate,
            channels,
        })
    }
}

/// `name/rate` or `name/rate/channels`, as in an rtpmap.
impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.rate)?;
        if self.channels > 1 {
            write!(f, "/{}", self.channels)?;
        }
        Ok(())
    }
}
