package authz

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	alice := &Principal{Name: "alice", Roles: map[string]Role{"insights": Viewer}}
	dave := &Principal{Name: "dave", Roles: map[string]Role{"insights": Deployer}}
	ann := &Principal{Name: "ann", Roles: map[string]Role{"insights": Admin}}
	root := &Principal{Name: "root", GlobalAdmin: true}
	team := Resource{Team: "insights"}
	other := Resource{Team: "payments"}
	prot := Resource{Team: "insights", Protected: true}

	tests := []struct {
		name string
		p    *Principal
		a    Action
		r    Resource
		ok   bool
	}{
		{"anonymous", nil, AppRead, team, false},
		{"viewer reads own app", alice, AppRead, team, true},
		{"viewer reads other team", alice, AppRead, other, false},
		{"viewer cannot deploy", alice, AppDeploy, team, false},
		{"deployer deploys", dave, AppDeploy, team, true},
		{"deployer cannot delete app", dave, AppDelete, team, false},
		{"deployer not into protected env", dave, AppDeploy, prot, false},
		{"allowed deployer into protected env", dave, AppDeploy, Resource{Team: "insights", Protected: true, AllowedDeployer: true}, true},
		{"team admin into protected env", ann, AppDeploy, prot, true},
		{"team admin manages members", ann, MemberManage, team, true},
		{"team admin cannot create teams", ann, TeamCreate, Resource{}, false},
		{"team admin cannot manage envs", ann, EnvManage, Resource{}, false},
		{"anyone lists teams", alice, TeamList, Resource{}, true},
		{"global admin anything", root, ServerManage, other, true},
		{"viewer reads own audit", alice, AuditRead, team, true},
		{"viewer cannot verify audit", alice, AuditVerify, Resource{}, false},
		{"team admin manages team config", ann, ConfigManage, team, true},
		{"deployer cannot manage config", dave, ConfigManage, team, false},
		{"team admin cannot manage global config", ann, ConfigManageGlobal, Resource{}, false},
		{"global admin manages global config", root, ConfigManageGlobal, Resource{}, true},
		{"team admin deletes resources", ann, ResourceDelete, team, true},
		{"deployer cannot delete resources", dave, ResourceDelete, team, false},
		{"team admin cannot delete other team's resources", ann, ResourceDelete, other, false},
		{"global admin deletes resources", root, ResourceDelete, other, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.p, tt.a, tt.r)
			if (err == nil) != tt.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tt.ok)
			}
			var d *Denied
			if err != nil && (!errors.As(err, &d) || d.Reason == "") {
				t.Fatalf("denial %v carries no reason", err)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range []Role{Viewer, Deployer, Admin} {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r, got, err)
		}
	}
	if _, err := ParseRole("owner"); err == nil {
		t.Error("ParseRole(owner) succeeded")
	}
}
