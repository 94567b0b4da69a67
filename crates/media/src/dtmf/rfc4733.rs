//! RFC 4733 telephone-events (DTMF as RTP packets).
//!
//! Payload (section 2.3): event (8 bits), E = end (1), R (1), volume (6, -dBm0),
//! duration (16, in RTP clock units since the event began). All packets of one
//! event carry the RTP timestamp of its start; the first has the marker bit; the
//! duration grows while the key is held; the last has E set and is sent three
//! times (redundancy against loss).

use super::{digit_to_event, event_to_digit, DtmfError, DtmfEvent};
use std::time::{Duration, Instant};

/// An event whose end packets were all lost is ended this long after its last
/// packet (phones repeat packets every 50 ms at most while a key is held).
const END_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy)]
struct Current {
    ts: u32,
    digit: char,
    duration: u16,
    last_seen: Instant,
    ended: bool,
}

/// Turns a stream of telephone-event packets into digit begin/end events, each
/// digit reported once however many packets (and redundant ends) carry it.
#[derive(Debug, Clone)]
pub struct Rfc4733Receiver {
    clock_rate: u32,
    current: Option<Current>,
    /// Volume of the latest packet, in -dBm0 (0 = loudest).
    last_volume: Option<u8>,
}

impl Default for Rfc4733Receiver {
    fn default() -> Self {
        Rfc4733Receiver::new(8000)
    }
}

impl Rfc4733Receiver {
    /// `clock_rate` is the telephone-event rate from the SDP (8000 almost always).
    pub fn new(clock_rate: u32) -> Rfc4733Receiver {
        Rfc4733Receiver {
            clock_rate: clock_rate.max(1),
            current: None,
            last_volume: None,
        }
    }

    pub fn last_volume(&self) -> Option<u8> {
        self.last_volume
    }

    fn ms(&self, duration: u16) -> u32 {
        u32::from(duration) * 1000 / self.clock_rate
    }

    /// A digit is held right now.
    pub fn active(&self) -> Option<char> {
        self.current.filter(|c| !c.ended).map(|c| c.digit)
    }

    /// Parses an RTP datagram and handles it if its payload type is
    /// `event_pt`; other packets yield nothing.
    pub fn on_rtp(&mut self, datagram: &[u8], event_pt: u8, now: Instant) -> Vec<DtmfEvent> {
        match crate::rtp::RtpHeader::parse(datagram) {
            Ok(h) if h.payload_type == event_pt => {
                let end = h.payload_offset + h.payload_len;
                let payload = datagram.get(h.payload_offset..end).unwrap_or(&[]);
                self.on_packet(h.timestamp, payload, now)
            }
            _ => Vec::new(),
        }
    }

    /// One telephone-event payload with its RTP timestamp.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8], now: Instant) -> Vec<DtmfEvent> {
        let mut out = Vec::new();
        let [event, flags, d0, d1, ..] = *payload else {
            return out;
        };
        let Some(digit) = event_to_digit(event) else {
            // Flash (16) and tones other than DTMF are not digits.
            return out;
        };
        let end = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([d0, d1]);
        self.last_volume = Some(flags & 0x3F);
        if let Some(cur) = &mut self.current {
            if cur.ts == timestamp {
                if cur.ended {
                    return out; // redundant end packet
                }
                cur.duration = cur.duration.max(duration);
                cur.last_seen = now;
                if end {
                    cur.ended = true;
                    let (d, dur) = (cur.digit, cur.duration);
                    out.push(DtmfEvent::End {
                        digit: d,
                        duration_ms: self.ms(dur),
                    });
                }
                return out;
            }
            if (timestamp.wrapping_sub(cur.ts) as i32) < 0 {
                return out; // straggler of an earlier event
            }
            if !cur.ended {
                // The previous digit's end packets were lost: end it now.
                cur.ended = true;
                let (d, dur) = (cur.digit, cur.duration);
                out.push(DtmfEvent::End {
                    digit: d,
                    duration_ms: self.ms(dur),
                });
            }
        }
        self.current = Some(Current {
            ts: timestamp,
            digit,
            duration,
            last_seen: now,
            ended: end,
        });
        out.push(DtmfEvent::Begin { digit });
        if end {
            out.push(DtmfEvent::End {
                digit,
                duration_ms: self.ms(duration),
            });
        }
        out
    }

    /// Ends a digit whose end packets never came. Call on every tick.
    pub fn poll(&mut self, now: Instant) -> Option<DtmfEvent> {
        let cur = self.current.as_mut()?;
        if cur.ended || now.saturating_duration_since(cur.last_seen) < END_TIMEOUT {
            return None;
        }
        cur.ended = true;
        let (d, dur) = (cur.digit, cur.duration);
        Some(DtmfEvent::End {
            digit: d,
            duration_ms: self.ms(dur),
        })
    }
}

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Set on the first packet of the event only.
    pub marker: bool,
    pub payload: [u8; 4],
    /// The E bit is set (the last packet and its repeats).
    pub end: bool,
    /// A repeat of the end packet: senders differ on whether it takes a new
    /// sequence number (Asterisk) or the same one (the SIPp captures).
    pub retransmission: bool,
}

/// The packets for one digit, one per 20 ms tick. Every packet must go out with
/// the RTP timestamp the event started at.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    /// Total duration in 8 kHz units.
    total: u16,
    sent: u16,
    ends_sent: u8,
}

/// Packets per 20 ms at 8 kHz.
const STEP: u16 = 160;

impl DtmfSender {
    /// `duration` is rounded up to whole 20 ms packets (at least one) and capped
    /// at the field's maximum, 8.19 s. `volume` is in -dBm0 (10 is typical),
    /// capped at 63.
    pub fn new(digit: char, duration: Duration, volume: u8) -> Result<DtmfSender, DtmfError> {
        let event = digit_to_event(digit).ok_or_else(|| DtmfError::NotADigit(digit.to_string()))?;
        let samples = duration
            .as_millis()
            .saturating_mul(8)
            .div_ceil(u128::from(STEP))
            .max(1)
            * u128::from(STEP);
        let total = u16::try_from(samples).unwrap_or(u16::MAX / STEP * STEP);
        Ok(DtmfSender {
            event,
            volume: volume.min(63),
            total,
            sent: 0,
            ends_sent: 0,
        })
    }

    /// The packet for this tick; `None` once the three end packets are out.
    pub fn next_packet(&mut self) -> Option<EventPacket> {
        if self.ends_sent >= 3 {
            return None;
        }
        let first = self.sent == 0;
        self.sent = self.sent.saturating_add(STEP).min(self.total);
        let end = self.sent >= self.total;
        let retransmission = end && self.ends_sent > 0;
        if end {
            self.ends_sent += 1;
        }
        let d = self.sent.to_be_bytes();
        let flags = if end { 0x80 } else { 0 } | self.volume;
        Some(EventPacket {
            marker: first,
            payload: [self.event, flags, d[0], d[1]],
            end,
            retransmission,
        })
    }
}
