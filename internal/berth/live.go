package berth

// RolloutStatus is a Deployment's rollout as the cluster reports it: its phase (lower
// case: progressing, available, failed, ...), why, and its replica counts.
type RolloutStatus struct {
	Phase, Message                     string
	Desired, Updated, Ready, Available int
}

// LiveApp is an app as it runs in one environment.
type LiveApp struct {
	RolloutStatus
	Images []string
	Pods   []LivePod
	Drift  []DriftItem
}

// LivePod is one pod of an app.
type LivePod struct {
	Name, Phase, Reason string
	Ready, Current      bool
	Restarts            int
}

// DriftItem is a field Berth set that differs live.
type DriftItem struct {
	Object, Path, Desired, Live string
}
