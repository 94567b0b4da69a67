//! `spygroup serve`: open the store, start the switch and the HTTP API, wait for
//! SIGINT/SIGTERM, shut down cleanly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use store::Store;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

use crate::settings::ServeSettings;

/// How long the switch gets to hang up calls before we exit anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// The switch handle, shared with the health closure until shutdown takes it.
type SharedPbx = Arc<Mutex<Option<pbx::PbxHandle>>>;

pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let ServeSettings {
        mut pbx,
        http,
        https,
        db,
        realm,
    } = settings;
    let shown_db = store::redact_url(&db);
    let store = match &realm {
        Some(r) => Store::open_with_realm(&db, r).await,
        None => Store::open(&db).await,
    }
    .with_context(|| format!("cannot use database {shown_db}"))?;
    pbx.realm = store.realm().to_string();
    // The switch reads the configuration from memory, kept current from the
    // database, and writes behind: a database outage costs no call.
    let config = store::LiveConfig::start(store.clone())
        .await
        .with_context(|| format!("cannot read the configuration from {shown_db}"))?;

    // Signals are hooked before anything listens, so an early SIGTERM is not lost.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;

    // Bind HTTP before starting the switch: a busy port fails the start cleanly.
    let bound = api::bind(http).await?;
    let http_addr = bound.local_addr();
    let https = match https {
        Some((addr, files)) => {
            let certs = sip::transport::Certificates::load(files)
                .context("cannot read the TLS certificate for HTTPS")?;
            Some((crate::https::bind(addr).await?, certs))
        }
        None => None,
    };

    let (media, rtp) = (pbx.media_ip, pbx.rtp_ports.clone());
    // The API serves and deletes the files MixMonitor and ChanSpy write there.
    let recordings = pbx.recordings.clone();
    let handle = pbx::start(pbx, config.clone())
        .await
        .context("cannot start the switch")?;
    // The bound address, which differs from the configured one when port 0 was asked.
    let sip = handle.sip_addr();
    let tls = handle.tls();
    let control = handle.controller();
    let live: Arc<dyn api::LiveView> = Arc::new(LiveAdapter {
        config: config.clone(),
        registry: handle.registry(),
        events: handle.events(),
        control: control.clone(),
        conferences: handle.conferences(),
        floor: handle.floor(),
        // Browsers reach WebRTC media where phones reach RTP.
        webrtc: webrtc::Gateway::new(media),
    });
    let metrics = handle.metrics_source();
    let shared: SharedPbx = Arc::new(Mutex::new(Some(handle)));

    let (stop_api, api_stopped) = oneshot::channel::<()>();
    let http_control = control.clone();
    let state = api::ApiState {
        health: health_fn(shared.clone()),
        reload: Some(Arc::new(move || {
            let r = http_control.clone();
            Box::pin(async move { r.reload().await })
        })),
        store: Some(store.clone()),
        live: Some(live),
        recordings: Some(recordings),
        metrics: Some(Arc::new(move || {
            let m = metrics.clone();
            Box::pin(async move { m.render().await })
        })),
        sessions: Default::default(),
    };
    let (stop_https, https_stopped) = oneshot::channel::<()>();
    let https_certs = match https {
        Some((listener, certs)) => {
            let addr = listener.local_addr().context("the HTTPS address")?;
            tracing::info!("HTTPS (API and console) on https://{addr}");
            tokio::spawn(crate::https::serve(
                listener,
                certs.clone(),
                state.clone(),
                async move {
                    let _ = https_stopped.await;
                },
            ));
            Some(certs)
        }
        None => None,
    };
    let mut api_task = tokio::spawn(bound.serve_with(state, async move {
        let _ = api_stopped.await;
    }));

    if let Some(addr) = tls.addr() {
        tracing::info!("SIP over TLS on {addr}");
    }
    tracing::info!(
        "spygroup listening: SIP {sip} (udp+tcp), HTTP http://{http_addr}, media {media} \
         RTP {}-{}, database {shown_db}, realm {:?}",
        rtp.start(),
        rtp.end(),
        store.realm()
    );

    let api_early = loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM received, shutting down"); break None }
            _ = sigint.recv() => { tracing::info!("SIGINT received, shutting down"); break None }
            _ = sighup.recv() => {
                match control.reload().await {
                    Ok(warnings) => tracing::info!(warnings, "SIGHUP: dialplan reloaded"),
                    Err(e) => tracing::error!("SIGHUP: dialplan NOT reloaded, the running one stays:\n{e}"),
                }
                match tls.reload() {
                    Ok(true) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::error!("SIGHUP: TLS certificate NOT reloaded, the one in use stays: {e}"),
                }
                if let Some(certs) = &https_certs {
                    match certs.reload() {
                        Ok(()) => tracing::info!("SIGHUP: HTTPS certificate reloaded"),
                        Err(e) => tracing::error!("SIGHUP: HTTPS certificate NOT reloaded, the one in use stays: {e}"),
                    }
                }
            }
            r = &mut api_task => break Some(r),
        }
    };

    stop_switch(&shared).await;
    let _ = stop_api.send(());
    let _ = stop_https.send(());
    let api_result = match api_early {
        Some(r) => r,
        None => api_task.await,
    };
    store.close().await;
    api_result
        .context("HTTP API task failed")?
        .context("HTTP API stopped")?;
    tracing::info!("spygroup stopped");
    Ok(())
}

/// The switch as the HTTP API sees it: live channels, the event bus, monitors.
struct LiveAdapter {
    /// For each channel's groups as the configuration has them now.
    config: store::LiveConfig,
    registry: pbx::registry::Registry,
    events: pbx::EventBus,
    control: pbx::Controller,
    conferences: pbx::Conferences,
    floor: pbx::queue::FloorView,
    /// Browsers' WebRTC legs (the console's Listen without a desk phone).
    webrtc: webrtc::Gateway,
}

impl api::LiveView for LiveAdapter {
    fn queue_floor(&self) -> Option<model::QueueFloor> {
        Some(self.floor.get())
    }

    fn sign_in(
        &self,
        extension: &str,
        secret: &str,
        source: std::net::IpAddr,
    ) -> api::Answer<Option<api::SignedIn>> {
        let control = self.control.clone();
        let (extension, secret) = (extension.to_string(), secret.to_string());
        Box::pin(async move {
            let user = control.sign_in(&extension, &secret, source).await?;
            Ok(user.map(|u| api::SignedIn {
                extension: u.extension.number,
                name: u.extension.name,
                supervisor: u.grant.is_some(),
            }))
        })
    }

    fn lockouts(&self) -> api::Answer<Vec<model::Lockout>> {
        let control = self.control.clone();
        Box::pin(async move { control.lockouts().await })
    }

    fn lift_lockout(&self, id: &str, by: &str) -> api::Answer<bool> {
        let control = self.control.clone();
        let (id, by) = (id.to_string(), by.to_string());
        Box::pin(async move { control.lift_lockout(&id, &by).await })
    }

    fn conferences(&self) -> Vec<model::ConfRoom> {
        self.conferences.list()
    }

    fn conference_change(
        &self,
        room: &str,
        channel: &str,
        change: &model::ConfChange,
    ) -> Result<(), api::ConfRefused> {
        self.conferences
            .change(room, channel, change)
            .map_err(|e| match e {
                pbx::ConfError::Volume(field, _) => api::ConfRefused::Bad(field, e.to_string()),
                other => api::ConfRefused::NotFound(other.to_string()),
            })
    }

    fn conference_kick(&self, room: &str, channel: &str) -> Result<(), String> {
        self.conferences
            .kick(room, channel)
            .map_err(|e| e.to_string())
    }

    fn channels(&self) -> Vec<api::LiveChannel> {
        let config = self.config.snapshot();
        self.registry
            .snapshot()
            .into_iter()
            .map(|c| c.info)
            .map(|c| api::LiveChannel {
                spygroup: c.all_groups(&config),
                name: c.name,
                call: c.call_ref,
                endpoint: c.endpoint,
                number: c.number,
                bridged_to: c.bridged_to,
                queue: c.queue,
                spying: c.spying_on.map(|s| api::Spying {
                    channel: s.target,
                    mode: s.mode,
                    session: s.session,
                    since: s.since_ms,
                    mode_since: s.mode_since_ms,
                }),
                in_chanspy: c.in_chanspy,
                role: c.role,
                trunk: c.trunk,
                started_at: c.started_ms,
            })
            .collect()
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<serde_json::Value>> {
        self.events.subscribe()
    }

    fn queue_logged(&self, lines: &[model::QueueLogEntry]) {
        for entry in lines {
            self.events.emit(pbx::events::Event::QueueLog {
                entry: entry.clone(),
            });
        }
    }

    fn monitor_start(
        &self,
        supervisor: &str,
        target: &str,
        mode: model::SpyMode,
        follow: model::Follow,
    ) -> api::MonitorStart {
        let control = self.control.clone();
        let (supervisor, target) = (supervisor.to_string(), target.to_string());
        Box::pin(async move {
            control
                .monitor_start(&supervisor, &target, mode, follow)
                .await
                .map(|id| id.0)
                .map_err(|e| e.failure())
        })
    }

    fn monitor_start_browser(
        &self,
        supervisor: &str,
        target: &str,
        mode: model::SpyMode,
        follow: model::Follow,
        offer: &str,
    ) -> api::Pending<api::BrowserMonitor> {
        let (control, gateway) = (self.control.clone(), self.webrtc.clone());
        let (supervisor, target, offer) = (
            supervisor.to_string(),
            target.to_string(),
            offer.to_string(),
        );
        Box::pin(async move {
            let leg = gateway
                .accept(&offer)
                .await
                .map_err(|e| model::MonitorFailure::Unavailable(e.to_string()))?;
            let (id, port) = control
                .monitor_browser(&supervisor, &target, mode, follow, leg.rtp)
                .await
                .map_err(|e| e.failure())?;
            let answer = leg.answer.clone();
            let pbx_side = std::net::SocketAddr::new(gateway.ice_ip(), port);
            tokio::spawn(browser_leg(control, id.0.clone(), leg, pbx_side));
            Ok(api::BrowserMonitor { id: id.0, answer })
        })
    }

    fn monitor_mode(&self, id: &str, mode: model::SpyMode) -> api::Pending<()> {
        let (control, id) = (self.control.clone(), id.to_string());
        Box::pin(async move {
            control
                .monitor_mode(&id, mode)
                .await
                .map_err(|e| e.failure())
        })
    }

    fn monitor_stop(&self, id: &str) -> Result<(), api::MonitorFailure> {
        self.control.monitor_stop(id).map_err(|e| e.failure())
    }

    fn monitor_owner(&self, id: &str) -> Option<String> {
        self.control.monitor_owner(id)
    }
}

/// Runs a browser's WebRTC leg for monitor `id`: it ends with the monitor, and a
/// browser that goes away (or never connects) ends the monitor.
async fn browser_leg(
    control: pbx::Controller,
    id: String,
    leg: webrtc::Accepted,
    pbx_side: std::net::SocketAddr,
) {
    let watch = control.clone();
    let monitor = id.clone();
    let gone = async move {
        // The click-to-spy task registers the monitor when it starts and drops it
        // when it ends.
        let started = std::time::Instant::now();
        let mut seen = false;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            match watch.monitor_owner(&monitor) {
                Some(_) => seen = true,
                None if seen || started.elapsed() > std::time::Duration::from_secs(5) => return,
                None => {}
            }
        }
    };
    let end = leg.run(pbx_side, gone).await;
    tracing::info!(monitor = %id, ?end, "browser's leg ended");
    if end != webrtc::LegEnd::Stopped {
        let _ = control.monitor_stop(&id);
    }
}

/// `/health` body: the switch's live counters, or `stopping` once shutdown began.
fn health_fn(shared: SharedPbx) -> api::HealthFn {
    Arc::new(move || {
        let guard = shared.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(h) => {
                let s = h.status();
                let db = &s.store;
                // What is degraded, each with what it means for calls.
                let mut degraded = Vec::new();
                if db.degraded {
                    degraded.push(json!({
                        "part": "database",
                        "effect": "calls go on from the configuration in memory; writes wait in the queue",
                        "error": db.last_error,
                    }));
                }
                json!({
                    // Degraded: calls go on from memory, writes wait in the queue.
                    "status": if db.degraded { "degraded" } else { "ok" },
                    "degraded": degraded,
                    "registrations": s.registrations,
                    "calls": s.calls,
                    "sip_unparsable_dropped": s.unparsable,
                    "database": {
                        "status": if db.degraded { "degraded" } else { "ok" },
                        "last_error": db.last_error,
                        "queued_writes": db.queued,
                        "written": db.written,
                        "dropped": db.dropped,
                        "failed": db.failed,
                        "config_version": db.config_version,
                    },
                })
            }
            None => json!({ "status": "stopping" }),
        }
    })
}

async fn stop_switch(shared: &SharedPbx) {
    let handle = shared.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(h) = handle {
        if tokio::time::timeout(SHUTDOWN_GRACE, h.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "switch did not stop within {}s; exiting anyway",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    }
}
