package kubetest

// Images that make the test cluster's simulated pods fail on purpose, for tests of failed
// rollouts, automatic rollback and crash loops against the real controllers. kwok runs no
// container: Stages (internal/devcluster/stages) decide what a pod's status says, by the
// image of its containers. Any tag works (CrashLoopImage + ":v2"), so a test can roll from
// one failing revision to another. A container with any other image is Running and Ready
// at once. Every dev cluster loads these Stages, `berth dev cluster up` included.
//
// kwok's own chaos Stage is loaded too: a pod labelled
// pod-container-running-failed.stage.kwok.x-k8s.io: "true" becomes Ready, then ends Failed
// a second or two later with its container exited with code 1, and its ReplicaSet replaces
// it, again and again. The Deployment still counts it available for that second, so such a
// rollout fails only with minReadySeconds longer than the pods live.
const (
	// CrashLoopImage: the pod is Running but never Ready; the container waits in
	// CrashLoopBackOff after 3 restarts, its last run exited with code 1 (Error).
	CrashLoopImage = "registry.berth.test/fail"
	// UnpullableImage: the pod stays Pending; the container waits in ImagePullBackOff.
	UnpullableImage = "registry.berth.test/unpullable"
	// NeverReadyImage: the pod is Running, its container runs without restarts but never
	// passes readiness, so only the Deployment's progress deadline catches it.
	NeverReadyImage = "registry.berth.test/unready"
	// ChaosLabel, set to "true" on a pod template, turns on kwok's chaos Stage (see above).
	ChaosLabel = "pod-container-running-failed.stage.kwok.x-k8s.io"
)
