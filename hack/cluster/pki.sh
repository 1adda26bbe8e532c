#!/usr/bin/env bash
# Makes the local control plane's keys and certificates with openssl, once
# (kept in .cluster/pki): a CA, the API server's serving certificate for
# 127.0.0.1, a client certificate per component (the admin's in
# system:masters; the controller-manager and scheduler under the names
# their built-in RBAC roles are bound to), the service-account signing key,
# and a kubeconfig per client with everything embedded.
source "$(dirname "$0")/lib.sh"

PKI=$CLUSTER_DIR/pki

# cert NAME SUBJECT [SAN]: a key and a certificate signed by the CA.
cert() {
	local name=$1 subj=$2 san=${3:-}
	[ -f "$PKI/$name.crt" ] && return
	openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	local ext=$PKI/$name.ext
	if [ -n "$san" ]; then
		printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$ext"
	else
		printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
	fi
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$ext"
}

# kubeconfig NAME FILE: a kubeconfig for client certificate NAME.
kubeconfig() {
	local name=$1 file=$2
	local b64='base64 -w0'
	cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: fledge-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $($b64 <"$PKI/$name.crt")
    client-key-data: $($b64 <"$PKI/$name.key")
contexts:
- name: fledge-local
  context:
    cluster: fledge-local
    user: $name
current-context: fledge-local
KUBECONFIG
	chmod 600 "$file"
}

main() {
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	if [ ! -f "$PKI/ca.crt" ]; then
		openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
		openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=fledge-local-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$PKI/ca.crt" 2>/dev/null
	fi
	# The first address of the service range is the kubernetes Service's.
	cert apiserver "/CN=kube-apiserver" \
		"IP:127.0.0.1,DNS:localhost,IP:${SERVICE_CIDR%.0/*}.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert admin "/O=system:masters/CN=fledge-admin"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	if [ ! -f "$PKI/sa.key" ]; then
		openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
		openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	fi
	kubeconfig admin "$CLUSTER_DIR/kubeconfig"
	kubeconfig controller-manager "$PKI/controller-manager.kubeconfig"
	kubeconfig scheduler "$PKI/scheduler.kubeconfig"
}

main "$@"
