//! Prompts and digits: Playback, Background, WaitExten, Read, SayDigits, Playtones,
//! Echo.

use std::time::Duration;

use dialplan::{AppOutcome, ChannelVars};
use media::tone::{FrameSource, ToneGenerator, ToneSpec};
use media::PlayEnd;
use tokio::time::Instant;

use super::{Input, PbxHost};

/// Asterisk's `TIMEOUT(digit)`: how long to wait for the next digit of an extension.
const DIGIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Asterisk's `TIMEOUT(response)`: WaitExten's default.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a played prompt ended.
pub(super) enum Played {
    Done,
    Digit(char),
    Hangup,
    /// No such sound file.
    Missing,
}

impl PbxHost {
    /// Plays one sound by name; with `interruptible`, a digit stops it.
    pub(super) async fn play_file(&mut self, name: &str, interruptible: bool) -> Played {
        let prompt = match self.env.prompts.open("en", name.trim()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(channel = %self.chan.name, "cannot play {name:?}: {e}");
                return Played::Missing;
            }
        };
        self.play_source(Box::new(prompt.player()), interruptible)
            .await
    }

    pub(super) async fn play_source(
        &mut self,
        source: Box<dyn FrameSource + Send>,
        interruptible: bool,
    ) -> Played {
        let mut done = self.media.play(self.side, source);
        loop {
            let input = tokio::select! {
                end = &mut done => {
                    return match end {
                        Ok(PlayEnd::Finished) | Ok(PlayEnd::Stopped) => Played::Done,
                        // The bridge closed: the call is going away.
                        Err(_) => Played::Hangup,
                    };
                }
                i = self.input.next(&mut self.chan, None) => i,
            };
            match input {
                Input::Hangup => {
                    self.hung_up = true;
                    self.media.stop_play(self.side);
                    return Played::Hangup;
                }
                Input::Digit(d) if interruptible => {
                    self.media.stop_play(self.side);
                    return Played::Digit(d);
                }
                // Digits typed during an uninterruptible prompt are dropped, as in
                // Asterisk's Playback.
                Input::Digit(_) | Input::Timeout | Input::Remote(_) => {}
            }
        }
    }

    /// `Playback(file[&file...][,options])`: answers unless `noanswer`.
    pub(super) async fn playback(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let (files, options) = split_first(args);
        if !options.contains("noanswer") && !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let mut status = "SUCCESS";
        for name in files.split('&').filter(|f| !f.trim().is_empty()) {
            match self.play_file(name, false).await {
                Played::Hangup => return AppOutcome::Hangup,
                Played::Missing => status = "FAILED",
                Played::Done | Played::Digit(_) => {}
            }
        }
        vars.set("PLAYBACKSTATUS", status);
        AppOutcome::Continue
    }

    /// `Background(file[&file...][,options])`: a digit stops the prompt and starts
    /// collecting an extension of the current context.
    pub(super) async fn background(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let (files, options) = split_first(args);
        if !options.contains('n') && !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        for name in files.split('&').filter(|f| !f.trim().is_empty()) {
            match self.play_file(name, true).await {
                Played::Hangup => return AppOutcome::Hangup,
                Played::Digit(d) => return self.collect_exten(d, vars).await,
                Played::Missing => vars.set("BACKGROUNDSTATUS", "FAILED"),
                Played::Done => {}
            }
        }
        AppOutcome::Continue
    }

    /// `WaitExten([seconds])`.
    pub(super) async fn wait_exten(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let (secs, _) = split_first(args);
        let timeout = secs
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0)
            .map_or(RESPONSE_TIMEOUT, Duration::from_secs_f64);
        match self.input.next(&mut self.chan, Some(timeout)).await {
            Input::Hangup => {
                self.hung_up = true;
                AppOutcome::Hangup
            }
            Input::Timeout | Input::Remote(_) => AppOutcome::Timeout,
            Input::Digit(d) => self.collect_exten(d, vars).await,
        }
    }

    /// Collects digits after `first` until they name an extension that cannot grow,
    /// `#`, or the digit timeout.
    async fn collect_exten(&mut self, first: char, vars: &mut ChannelVars) -> AppOutcome {
        let context = vars.location.context.clone();
        let mut digits = String::new();
        let mut next = Some(first);
        loop {
            match next {
                Some('#') if !digits.is_empty() => break,
                Some(d) => digits.push(d),
                None => {}
            }
            // Stop as soon as no longer extension could match (exact or hopeless).
            if !self.env.plan.can_match_more(&context, &digits) {
                break;
            }
            match self.input.next(&mut self.chan, Some(DIGIT_TIMEOUT)).await {
                Input::Hangup => {
                    self.hung_up = true;
                    return AppOutcome::Hangup;
                }
                Input::Timeout | Input::Remote(_) => break,
                Input::Digit(d) => next = Some(d),
            }
        }
        AppOutcome::Digits(digits)
    }

    /// `Read(var[,prompt[&prompt][,maxdigits[,options[,attempts[,timeout]]]]])`.
    pub(super) async fn read(&mut self, args: &str, vars: &mut ChannelVars) -> AppOutcome {
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let var = a.first().copied().unwrap_or_default();
        let prompt = a.get(1).copied().unwrap_or_default();
        let max: usize = a
            .get(2)
            .and_then(|m| m.parse().ok())
            .filter(|m| *m > 0)
            .unwrap_or(255);
        let options = a.get(3).copied().unwrap_or_default();
        let attempts: u32 = a
            .get(4)
            .and_then(|m| m.parse().ok())
            .filter(|m| *m > 0)
            .unwrap_or(1);
        let timeout = a
            .get(5)
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .map_or(DIGIT_TIMEOUT, Duration::from_secs_f64);
        if var.is_empty() {
            return AppOutcome::Fail("Read needs a variable name".into());
        }
        if !options.contains('n') && !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        for _ in 0..attempts {
            let mut digits = String::new();
            let mut first = None;
            for name in prompt.split('&').filter(|f| !f.is_empty()) {
                match self.play_file(name, true).await {
                    Played::Hangup => {
                        vars.set("READSTATUS", "HANGUP");
                        return AppOutcome::Hangup;
                    }
                    Played::Digit(d) => {
                        first = Some(d);
                        break;
                    }
                    Played::Done | Played::Missing => {}
                }
            }
            let status = loop {
                let input = match first.take() {
                    Some(d) => Input::Digit(d),
                    None => self.input.next(&mut self.chan, Some(timeout)).await,
                };
                match input {
                    Input::Hangup => {
                        vars.set("READSTATUS", "HANGUP");
                        return AppOutcome::Hangup;
                    }
                    Input::Timeout | Input::Remote(_) => {
                        break if digits.is_empty() { "TIMEOUT" } else { "OK" }
                    }
                    Input::Digit('#') => break "OK",
                    Input::Digit(d) => {
                        digits.push(d);
                        if digits.len() >= max {
                            break "OK";
                        }
                    }
                }
            };
            vars.set(var, &digits);
            vars.set("READSTATUS", status);
            if !digits.is_empty() {
                break;
            }
        }
        AppOutcome::Continue
    }

    /// `SayDigits(digits)`: `digits/N` for each digit.
    pub(super) async fn say_digits(&mut self, args: &str) -> AppOutcome {
        if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let (digits, _) = split_first(args);
        for d in digits.chars().filter(char::is_ascii_digit) {
            if let Played::Hangup = self.play_file(&format!("digits/{d}"), false).await {
                return AppOutcome::Hangup;
            }
        }
        AppOutcome::Continue
    }

    /// `Playtones(name|freq[+freq])`: starts a tone and returns at once.
    pub(super) fn playtones(&mut self, args: &str) -> AppOutcome {
        let (arg, _) = split_first(args);
        let spec = match arg.trim().to_ascii_lowercase().as_str() {
            "ring" | "ringback" => ToneSpec::ringback(),
            "busy" => ToneSpec::busy(),
            "congestion" => ToneSpec::congestion(),
            "dial" => ToneSpec::dial(),
            "beep" => ToneSpec::beep(),
            other => match other
                .split('/')
                .next()
                .unwrap_or("")
                .split('+')
                .map(str::parse::<f64>)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(freqs) if !freqs.is_empty() => ToneSpec {
                    freqs,
                    ..ToneSpec::sine(0.0, -13.0)
                },
                _ => return AppOutcome::Fail(format!("Playtones: unknown tone {arg:?}")),
            },
        };
        drop(
            self.media
                .play(self.side, Box::new(ToneGenerator::new(spec))),
        );
        AppOutcome::Continue
    }

    /// `Echo()`: the caller hears itself until it presses `#` or hangs up.
    /// `MusicOnHold([class[,duration]])`: music until the caller hangs up, or for
    /// `duration` seconds. The class defaults to `SetMusicOnHold`'s, then `default`.
    pub(super) async fn music_on_hold(&mut self, args: &str) -> AppOutcome {
        if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let (class, rest) = split_first(args);
        let class = match class.trim() {
            "" if self.music_class.is_empty() => crate::moh::DEFAULT_CLASS.to_string(),
            "" => self.music_class.clone(),
            c => c.to_string(),
        };
        let Some(music) = self.env.music.player(&class) else {
            return AppOutcome::Fail(format!(
                "MusicOnHold({args}): no music on hold to play (class {class:?}, nor default)"
            ));
        };
        let secs: f64 = rest.trim().parse().unwrap_or(0.0);
        if secs > 0.0 {
            let limit = Duration::from_secs_f64(secs.min(86_400.0));
            match tokio::time::timeout(limit, self.play_source(music, false)).await {
                Ok(Played::Hangup) => AppOutcome::Hangup,
                Ok(_) => AppOutcome::Continue,
                Err(_) => {
                    self.media.stop_play(self.side);
                    AppOutcome::Continue
                }
            }
        } else {
            match self.play_source(music, false).await {
                Played::Hangup => AppOutcome::Hangup,
                _ => AppOutcome::Continue,
            }
        }
    }

    pub(super) async fn echo(&mut self) -> AppOutcome {
        if !self.ensure_answered().await {
            return AppOutcome::Hangup;
        }
        let (tx, rx) = media::frame_pipe(10);
        self.media.talk_to(self.side, Some(tx));
        drop(
            self.media
                .play(self.side, Box::new(media::LinkSource::new(rx))),
        );
        let outcome = loop {
            match self.input.next(&mut self.chan, None).await {
                Input::Hangup => {
                    self.hung_up = true;
                    break AppOutcome::Hangup;
                }
                Input::Digit('#') => break AppOutcome::Continue,
                _ => {}
            }
        };
        self.media.talk_to(self.side, None);
        self.media.stop_play(self.side);
        outcome
    }

    /// A short pause that ends early on hangup.
    pub(super) async fn pause(&mut self, ms: u64) -> bool {
        let until = Instant::now() + Duration::from_millis(ms);
        let mut typed = Vec::new();
        let ok = loop {
            match self.input.next_until(&mut self.chan, until).await {
                Input::Hangup => {
                    self.hung_up = true;
                    break false;
                }
                Input::Timeout | Input::Remote(_) => break true,
                Input::Digit(d) => typed.push(d),
            }
        };
        for d in typed {
            self.input.push_back(d);
        }
        ok
    }
}

/// `first,rest`: the first argument and the remaining ones.
pub(super) fn split_first(args: &str) -> (&str, &str) {
    match args.split_once(',') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (args.trim(), ""),
    }
}
