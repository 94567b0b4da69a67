//! The switch's call flows in virtual time: phones are structs, the network is a
//! queue of outputs, time moves when a test says so.

mod harness;

mod cancel;
mod click_to_spy;
mod conference;
mod dial;
mod flood;
mod hold;
mod indialog;
mod late_offer;
mod lifecycle;
mod lockout;
mod queue;
mod secure;
mod session_timer;
mod takeover;
mod transfer;
mod watchdog;
