//! On a paused clock (`start_paused`): tokio's time only moves when every
//! task waits, and then straight to the next timer, so backoffs, staggers and
//! deadlines are exact and cost no wall time.

use std::sync::atomic::AtomicUsize;

use super::*;

/// A factory from a closure, counting starts.
struct TestFactory<F> {
    starts: Arc<AtomicUsize>,
    run: F,
    /// What the supervisor told the factory, in order.
    told: std::sync::Mutex<Vec<(SupervisedState, String)>>,
}

impl<F, Fut> WorkerFactory for TestFactory<F>
where
    F: Fn(u32, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = WorkerExit> + Send + 'static,
{
    fn start(&self, _key: &str, context: WorkerContext) -> WorkerRun {
        self.starts.fetch_add(1, Ordering::SeqCst);
        Box::pin((self.run)(context.restarts, context.stop))
    }

    fn supervised(&self, _key: &str, state: SupervisedState, reason: &str) {
        if let Ok(mut told) = self.told.lock() {
            told.push((state, reason.to_string()));
        }
    }
}

fn factory<F, Fut>(run: F) -> (Arc<dyn WorkerFactory>, Arc<AtomicUsize>)
where
    F: Fn(u32, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = WorkerExit> + Send + 'static,
{
    let starts = Arc::new(AtomicUsize::new(0));
    (Arc::new(TestFactory { starts: starts.clone(), run, told: Default::default() }), starts)
}

/// Runs until told to stop.
async fn until_stopped(mut stop: watch::Receiver<bool>) -> WorkerExit {
    let _ = stop.wait_for(|s| *s).await;
    WorkerExit::Stopped
}

fn fast_policy(max_restarts: usize) -> RestartPolicy {
    RestartPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(80),
        jitter: 0.0,
        max_restarts,
        window: Duration::from_secs(60),
    }
}

async fn state_of(handle: &SupervisorHandle, key: &str) -> Option<WorkerStatus> {
    handle.snapshot(Duration::from_secs(1)).await?.into_iter().find(|w| w.key == key)
}

async fn wait_state(handle: &SupervisorHandle, key: &str, state: SupervisedState) -> WorkerStatus {
    wait_until(handle, key, |s| s.state == state).await
}

/// Waits (bounded: 30 s of the paused clock) until `key`'s status satisfies `done`.
async fn wait_until(
    handle: &SupervisorHandle,
    key: &str,
    done: impl Fn(&WorkerStatus) -> bool,
) -> WorkerStatus {
    for _ in 0..3000 {
        if let Some(status) = state_of(handle, key).await {
            if done(&status) {
                return status;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key} never got there: {:?}", state_of(handle, key).await);
}

// The heartbeat runs on tokio's clock, so the paused clock ages it.
#[tokio::test(start_paused = true)]
async fn health_follows_the_task() {
    let supervisor = Supervisor::start(RestartPolicy::default(), Duration::ZERO);
    let handle = supervisor.handle();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handle.health(Duration::from_secs(1)), SupervisorHealth::Running);
    assert_eq!(handle.snapshot(Duration::from_secs(1)).await.map(|w| w.len()), Some(0));
    assert!(handle.inject_fault(SupervisorFault::Wedge).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(matches!(handle.health(Duration::from_millis(400)), SupervisorHealth::Wedged(_)));
    assert!(handle.snapshot(Duration::from_millis(100)).await.is_none());
    supervisor.task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handle.health(Duration::from_secs(1)), SupervisorHealth::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_failing_worker_restarts_without_touching_its_neighbour() {
    let supervisor = Supervisor::start(fast_policy(10), Duration::ZERO);
    let handle = supervisor.handle();
    let (steady, steady_starts) = factory(|_, stop| until_stopped(stop));
    let (flaky, flaky_starts) = factory(|restarts, stop| async move {
        if restarts < 2 {
            WorkerExit::Failed(format!("boom {restarts}"))
        } else {
            until_stopped(stop).await
        }
    });
    handle.start_worker("steady", steady);
    handle.start_worker("flaky", flaky);
    // `Running` is also the state before the first failure: wait for both restarts.
    let restarted_twice = |s: &WorkerStatus| {
        s.restarts == 2 && s.state == SupervisedState::Running && flaky_starts.load(Ordering::SeqCst) == 3
    };
    let status = wait_until(&handle, "flaky", restarted_twice).await;
    // Nothing more happens after it: it stays up (a fixed wait, as that is the point).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(flaky_starts.load(Ordering::SeqCst), 3, "failed twice, restarted twice");
    assert_eq!(steady_starts.load(Ordering::SeqCst), 1, "the neighbour never restarted");
    assert_eq!(status.last_error.as_deref(), Some("boom 1"));
    supervisor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_contained_and_restarted() {
    let supervisor = Supervisor::start(fast_policy(10), Duration::ZERO);
    let handle = supervisor.handle();
    let (panicky, starts) = factory(|restarts, stop| async move {
        if restarts == 0 {
            panic!("worker bug");
        }
        until_stopped(stop).await
    });
    handle.start_worker("p", panicky);
    // `Running` is also the state before the panic is noticed: wait for the restart.
    // (The state turns `Running` as the restart is spawned, a moment before the
    // factory is called: wait for that call too.)
    let restarted = |s: &WorkerStatus| {
        s.restarts == 1 && s.state == SupervisedState::Running && starts.load(Ordering::SeqCst) == 2
    };
    let status = wait_until(&handle, "p", restarted).await;
    assert!(status.last_error.as_deref().unwrap_or("").contains("worker bug"), "{status:?}");
    // The panic hook ran on this runtime's only thread, so the heartbeat may have paused
    // while it printed; what matters is that the supervisor itself is still alive.
    assert_eq!(handle.health(Duration::from_secs(60)), SupervisorHealth::Running);
    supervisor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_flapping_worker_is_quarantined_until_an_operator_restarts_it() {
    let supervisor = Supervisor::start(fast_policy(3), Duration::ZERO);
    let handle = supervisor.handle();
    let starts = Arc::new(AtomicUsize::new(0));
    let flapping = Arc::new(TestFactory {
        starts: starts.clone(),
        run: |_, _| async { WorkerExit::Failed("flap".into()) },
        told: Default::default(),
    });
    handle.start_worker("f", flapping.clone());
    let status = wait_state(&handle, "f", SupervisedState::Quarantined).await;
    assert_eq!(starts.load(Ordering::SeqCst), 4, "first start + 3 restarts, then quarantine");
    assert_eq!(status.last_error.as_deref(), Some("flap"));
    let told: Vec<SupervisedState> =
        flapping.told.lock().map(|t| t.iter().map(|(s, _)| *s).collect()).unwrap_or_default();
    use SupervisedState::{Backoff, Quarantined};
    assert_eq!(told, [Backoff, Backoff, Backoff, Quarantined], "the owner hears of every decision");
    // A fixed wait: that nothing restarts it is what is asserted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 4, "no restart while quarantined");
    handle.restart_worker("f");
    wait_state(&handle, "f", SupervisedState::Quarantined).await;
    assert_eq!(starts.load(Ordering::SeqCst), 8, "the operator's restart gives it a fresh budget");
    supervisor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_parked_worker_is_not_restarted() {
    let supervisor = Supervisor::start(fast_policy(10), Duration::ZERO);
    let handle = supervisor.handle();
    let (parked, starts) = factory(|_, _| async { WorkerExit::Parked("replaced by another device".into()) });
    handle.start_worker("r", parked);
    let status = wait_state(&handle, "r", SupervisedState::Parked).await;
    // A fixed wait: that nothing restarts it is what is asserted.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert_eq!(status.last_error.as_deref(), Some("replaced by another device"));
    supervisor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn first_starts_are_staggered() {
    let stagger = Duration::from_millis(40);
    let supervisor = Supervisor::start(fast_policy(10), stagger);
    let handle = supervisor.handle();
    let started = tokio::time::Instant::now();
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..5 {
        let times = times.clone();
        let (f, _) = factory(move |_, stop| {
            times.lock().expect("lock").push(started.elapsed());
            until_stopped(stop)
        });
        handle.start_worker(&format!("w{i}"), f);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut times = times.lock().expect("lock").clone();
    times.sort();
    assert_eq!(times.len(), 5);
    // Start i is not before i * stagger (and, the clock being paused, not
    // later either but for timer granularity).
    for (i, at) in times.iter().enumerate() {
        assert!(*at + Duration::from_millis(5) >= stagger * i as u32, "{times:?}");
        assert!(*at <= stagger * i as u32 + Duration::from_millis(5), "{times:?}");
    }
    supervisor.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_workers_in_parallel_within_the_deadline() {
    let supervisor = Supervisor::start(fast_policy(10), Duration::ZERO);
    let handle = supervisor.handle();
    for i in 0..20 {
        let (slow_to_stop, _) = factory(|_, mut stop| async move {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            WorkerExit::Stopped
        });
        handle.start_worker(&format!("s{i}"), slow_to_stop);
    }
    let (stubborn, _) = factory(|_, _| std::future::pending::<WorkerExit>());
    handle.start_worker("stubborn", stubborn);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    supervisor.shutdown(Duration::from_millis(800)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "waited for the workers: {took:?}");
    assert!(took < Duration::from_millis(2500), "parallel and bounded by the deadline: {took:?}");
    assert_eq!(handle.health(Duration::from_secs(1)), SupervisorHealth::Stopped);
}

#[tokio::test(start_paused = true)]
async fn stop_worker_resolves_once_the_run_has_ended() {
    let supervisor = Supervisor::start(fast_policy(10), Duration::ZERO);
    let handle = supervisor.handle();
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let (f, _) = factory(move |_, mut stop| {
        let flag = flag.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            flag.store(true, Ordering::SeqCst);
            WorkerExit::Stopped
        }
    });
    handle.start_worker("t", f);
    wait_state(&handle, "t", SupervisedState::Running).await;
    // Let the run begin (a stop before the first poll would rightly skip it).
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(handle.stop_worker("t", Duration::from_secs(2)).await);
    assert!(ended.load(Ordering::SeqCst), "the run had ended when stop_worker returned");
    assert!(state_of(&handle, "t").await.is_none(), "forgotten");
    supervisor.shutdown(Duration::from_secs(1)).await;
}
