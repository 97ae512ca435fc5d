package devcluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// nodeConfig is what the real node's configuration files are made of.
type nodeConfig struct {
	Dir          string // the node's directory inside the cluster's state directory
	Socket       string // containerd's socket
	NodeName     string
	NodeIP       string // the bridge's address on the host
	PodCIDR      string
	Bridge       string
	PauseImage   string
	RegistryName string
	RegistryAddr string
	CNIBinDir    string
	Runc         string
	CACert       string
	KubeletCert  string // the kubelet's serving certificate
	KubeletKey   string
	Kubeconfig   string // the component's own kubeconfig, per file
	LabelKey     string
	LabelValue   string
	HealthzPort  int
	ProxyHealthz int
	ProxyMetrics int
	DNSHealth    int
	DNSReady     int
}

// containerd 1.6 (Debian 12), configuration schema version 2: everything under Dir.
var containerdTemplate = template.Must(template.New("containerd").Parse(`# Written by berth dev cluster up.
version = 2
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{{.Socket}}"

[ttrpc]
  address = "{{.Socket}}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.PauseImage}}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Some machines (this project's CI among them) keep CAP_SYS_RESOURCE out of every process's
  # bounding set, so runc cannot set the negative oom_score_adj the kubelet asks for pod
  # sandboxes: clamp it to containerd's own.
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384
  # Pods' network namespaces are mounted under the state directory, not /run/netns.
  netns_mounts_under_state_dir = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{{.Runc}}"
        Root = "{{.Dir}}/containerd/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{.CNIBinDir}}"
    conf_dir = "{{.Dir}}/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{{.Dir}}/containerd/certs.d"
`))

// The registry's name, as images name it, maps to wherever it listens now.
var registryHostsTemplate = template.Must(template.New("hosts").Parse(`# Written by berth dev cluster up.
server = "http://{{.RegistryAddr}}"

[host."http://{{.RegistryAddr}}"]
  capabilities = ["pull", "resolve"]
`))

var cniTemplate = template.Must(template.New("cni").Parse(`{
  "cniVersion": "1.0.0",
  "name": "berth",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{.Bridge}}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "{{.PodCIDR}}", "gateway": "{{.NodeIP}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "{{.Dir}}/cni/ipam"
      }
    },
    {"type": "loopback"}
  ]
}
`))

var kubeletTemplate = template.Must(template.New("kubelet").Parse(`# Written by berth dev cluster up.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Kubernetes 1.35 and later refuse cgroup v1 hosts unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{{.Socket}}
# The kubelet's API listens on the bridge only; the API server reaches it there (InternalIP)
# with a client certificate, and every request is authenticated and authorized through the
# API server: no anonymous access.
address: {{.NodeIP}}
port: 10250
readOnlyPort: 0
tlsCertFile: {{.KubeletCert}}
tlsPrivateKeyFile: {{.KubeletKey}}
healthzBindAddress: 127.0.0.1
healthzPort: {{.HealthzPort}}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: {{.CACert}}}
authorization:
  mode: Webhook
clusterDNS: [{{.NodeIP}}]
clusterDomain: cluster.local
podLogsDir: {{.Dir}}/pod-logs
failSwapOn: false
maxPods: 60
registerNode: true
# Only pods that ask for the real node land on it: the simulated nodes keep everything else.
registerWithTaints:
- {key: {{.LabelKey}}, value: "{{.LabelValue}}", effect: NoSchedule}
nodeStatusReportFrequency: 10s
nodeStatusUpdateFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 10s
serializeImagePulls: false
# The pause image is imported, not pulled: never garbage-collect images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
resolvConf: /etc/resolv.conf
# No iptables chains (KUBE-FIREWALL, the canaries): they serve kube-proxy's iptables mode,
# and this node's kube-proxy uses nftables tables of its own, which it removes.
makeIPTablesUtilChains: false
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
`))

var kubeProxyTemplate = template.Must(template.New("kube-proxy").Parse(`# Written by berth dev cluster up.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: {{.NodeName}}
clientConnection:
  kubeconfig: {{.Kubeconfig}}
clusterCIDR: {{.PodCIDR}}
detectLocalMode: ClusterCIDR
healthzBindAddress: 127.0.0.1:{{.ProxyHealthz}}
metricsBindAddress: 127.0.0.1:{{.ProxyMetrics}}
# NodePorts only on the bridge: nothing of the cluster listens on the host's other addresses.
nodePortAddresses: ["{{.NodeIP}}/32"]
# Zeroes leave the host's conntrack sysctls as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
`))

// Cluster DNS on the bridge: Service and pod names from the API, everything else forwarded
// to the host's resolvers.
var corefileTemplate = template.Must(template.New("Corefile").Parse(`# Written by berth dev cluster up.
.:53 {
    bind {{.NodeIP}}
    errors
    health 127.0.0.1:{{.DNSHealth}}
    ready 127.0.0.1:{{.DNSReady}}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig {{.Kubeconfig}}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . /etc/resolv.conf
    cache 5
    loadbalance
}
`))

var registryTemplate = template.Must(template.New("registry").Parse(`# Written by berth dev cluster up.
version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: {{.Dir}}/registry}
  delete: {enabled: true}
http:
  addr: {{.RegistryAddr}}
`))

// writeTemplate renders t with c into path, mode 0600.
func writeTemplate(path string, t *template.Template, c *nodeConfig) error {
	var b bytes.Buffer
	if err := t.Execute(&b, c); err != nil {
		return fmt.Errorf("render %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}
