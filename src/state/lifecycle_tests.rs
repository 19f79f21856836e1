//! The fork lifecycle against a reference model (proptest-state-machine): whatever sequence
//! of transitions, a fork's state and its `end` agree, and each transition does what the
//! model says.

use std::path::Path;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use super::TurnStep;
use crate::state::{EndReason, Fork, ForkState};

#[derive(Clone, Debug)]
enum Transition {
    Requeue,
    Begin(TurnStep),
    Finish(EndReason, bool),
    Interrupt,
    Merge,
}

/// What the model keeps of a fork.
#[derive(Clone, Debug)]
struct Model {
    state: ForkState,
    end: Option<EndReason>,
    has_error: bool,
    merged: bool,
}

const ENDS: [EndReason; 12] = [
    EndReason::Done,
    EndReason::AgentError,
    EndReason::Timeout,
    EndReason::Cancelled,
    EndReason::ServerExited,
    EndReason::ServerGone,
    EndReason::NoServer,
    EndReason::SetupFailed,
    EndReason::WorktreeFailed,
    EndReason::CommitFailed,
    EndReason::HostGone,
    EndReason::DriverGone,
];

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            state: ForkState::Pending,
            end: None,
            has_error: false,
            merged: false,
        })
        .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        prop_oneof![
            Just(Transition::Requeue),
            prop_oneof![
                Just(TurnStep::Setup),
                Just(TurnStep::Running),
                Just(TurnStep::Checking)
            ]
            .prop_map(Transition::Begin),
            (proptest::sample::select(ENDS.to_vec()), any::<bool>())
                .prop_map(|(e, err)| Transition::Finish(e, err)),
            Just(Transition::Interrupt),
            Just(Transition::Merge),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        match t {
            Transition::Requeue => {
                m.state = ForkState::Pending;
                m.end = None;
                m.has_error = false;
            }
            Transition::Begin(step) => {
                m.end = None;
                m.state = step.state();
                m.has_error &= *step != TurnStep::Running;
            }
            Transition::Finish(end, error) => {
                m.state = end.state();
                m.end = Some(*end);
                m.has_error = *error || (m.has_error && m.state != ForkState::Done);
            }
            Transition::Interrupt if !m.state.is_finished() => {
                m.state = ForkState::Interrupted;
                m.end = Some(EndReason::DriverGone);
                m.has_error = true;
            }
            Transition::Interrupt => {}
            Transition::Merge => m.merged = true,
        }
        m
    }
}

struct Lifecycle;

impl StateMachineTest for Lifecycle {
    type SystemUnderTest = Fork;
    type Reference = Reference;

    fn init_test(_: &Model) -> Fork {
        Fork::pending("r", "a".into(), Path::new("/w"), "p".into(), "build".into())
    }

    fn apply(mut fork: Fork, _: &Model, t: Transition) -> Fork {
        match t {
            Transition::Requeue => fork.requeue(),
            Transition::Begin(step) => fork.begin(step),
            Transition::Finish(end, error) => fork.finish(end, error.then(|| "why".to_string())),
            Transition::Interrupt => {
                fork.interrupt("its driver went away");
            }
            Transition::Merge => fork.mark_merged("c0ffee"),
        }
        fork
    }

    fn check_invariants(fork: &Fork, model: &Model) {
        assert_eq!(fork.state, model.state);
        assert_eq!(fork.end, model.end);
        assert_eq!(fork.error.is_some(), model.has_error, "{fork:?}");
        assert_eq!(fork.merged, model.merged);
        // A fork has an end exactly when it is finished, and the end gives its state.
        assert_eq!(fork.end.is_some(), fork.state.is_finished(), "{fork:?}");
        if let Some(end) = fork.end {
            assert_eq!(end.state(), fork.state);
        }
    }
}

prop_state_machine! {
    #[test]
    fn a_forks_state_and_end_always_agree(sequential 1..40 => Lifecycle);
}
