package devcluster

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the kubeconfig context of a dev cluster.
const ContextName = "berth-dev"

func writeKubeconfig(path, server string, p *pki) error {
	return saveKubeconfig(path, server, p.caPEM, &clientcmdapi.AuthInfo{ClientCertificateData: p.adminCertPEM, ClientKeyData: p.adminKeyPEM})
}

// writeComponentKubeconfig writes a kubeconfig that authenticates with the client
// certificate at certPath, for one of the real node's components.
func writeComponentKubeconfig(path, server string, p *pki, certPath, keyPath string) error {
	return saveKubeconfig(path, server, p.caPEM, &clientcmdapi.AuthInfo{ClientCertificate: certPath, ClientKey: keyPath})
}

func saveKubeconfig(path, server string, caPEM []byte, auth *clientcmdapi.AuthInfo) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ContextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[ContextName] = auth
	cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: ContextName}
	cfg.CurrentContext = ContextName
	return clientcmd.WriteToFile(*cfg, path)
}
