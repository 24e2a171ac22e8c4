{{/* Names and labels. */}}
{{- define "sidekey.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "sidekey.workload" -}}{{ .Values.workload | default .Release.Name }}{{- end -}}

{{- define "sidekey.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sidekey.labels" -}}
{{ include "sidekey.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sidekey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ .Values.serviceAccount.name | default (include "sidekey.fullname" .) }}{{- else -}}{{ .Values.serviceAccount.name | default "default" }}{{- end -}}
{{- end -}}

{{- define "sidekey.policiesConfigMap" -}}{{ .Values.policies.existingConfigMap | default (printf "%s-policies" (include "sidekey.fullname" .)) }}{{- end -}}

{{/*
Native sidecar (an init container with restartPolicy Always): "true" or "". auto: where the
cluster has it on by default (the SidecarContainers feature is beta, on, from Kubernetes 1.29).
*/}}
{{- define "sidekey.native" -}}
{{- if eq (toString .Values.sidecar.native) "auto" -}}
{{- if semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version }}true{{ end -}}
{{- else if .Values.sidecar.native -}}true{{- end -}}
{{- end -}}

{{- define "sidekey.image" -}}{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}{{- end -}}

{{/* The agent's variables: proxy (explicit mode) and CA trust. The same list as src/kube/sidecar.ts (a test compares them). */}}
{{- define "sidekey.agentEnv" -}}
{{- if eq .Values.mode "explicit" }}
{{- range list "HTTP_PROXY" "HTTPS_PROXY" "http_proxy" "https_proxy" }}
- name: {{ . }}
  value: http://127.0.0.1:3128
{{- end }}
{{- range list "NO_PROXY" "no_proxy" }}
- name: {{ . }}
  value: {{ $.Values.noProxy | quote }}
{{- end }}
- name: NODE_USE_ENV_PROXY
  value: "1"
{{- end }}
- name: NODE_EXTRA_CA_CERTS
  value: /etc/sidekey/ca/ca.pem
{{- range list "SSL_CERT_FILE" "REQUESTS_CA_BUNDLE" "CURL_CA_BUNDLE" "AWS_CA_BUNDLE" "GIT_SSL_CAINFO" "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" "PIP_CERT" "npm_config_cafile" }}
- name: {{ . }}
  value: /etc/sidekey/ca/bundle.pem
{{- end }}
{{- /* wget on GnuTLS (Debian's) reads no trust variable, only its startup file, which sidekey publishes. */}}
- name: WGETRC
  value: /etc/sidekey/ca/wgetrc
{{- /* The JVM reads no PEM variable: it trusts the PKCS#12 store sidekey publishes beside bundle.pem (system roots plus the CA). */}}
- name: JAVA_TOOL_OPTIONS
  value: "-Djavax.net.ssl.trustStore=/etc/sidekey/ca/truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit"
{{- end -}}

{{/* The sidekey container's variables: its log level and the static secrets (never the agent's). */}}
{{- define "sidekey.sidecarEnv" -}}
- name: SIDEKEY_LOG_LEVEL
  value: {{ .Values.sidecar.logLevel | quote }}
{{- include "sidekey.secretEnv" . }}
{{- end -}}

{{/* The static secrets, as variables of the sidekey container (the webhook's sidecars get the same). */}}
{{- define "sidekey.secretEnv" -}}
{{- range .Values.secrets }}
- name: {{ required "secrets[].env is required" .env }}
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets[].secretName is required" .secretName }}
      key: {{ required "secrets[].key is required" .key }}
{{- end }}
{{- end -}}

{{/* Mounts of the shared-state files (state.yaml, Redis password and TLS, signing-key encryption key). */}}
{{- define "sidekey.stateMounts" -}}
{{- if eq .Values.state.store "redis" }}
- name: sidekey-state
  mountPath: /etc/sidekey/state
  readOnly: true
{{- include "sidekey.stateSecretMounts" . }}
{{- end }}
{{- end -}}

{{/* The Secrets state.yaml names (the webhook's sidecars get the same). */}}
{{- define "sidekey.stateSecretMounts" -}}
{{- if eq .Values.state.store "redis" }}
{{- if .Values.state.redis.passwordSecret.name }}
- name: sidekey-redis-password
  mountPath: /var/run/secrets/sidekey-redis
  readOnly: true
{{- end }}
{{- if .Values.state.redis.sentinelPasswordSecret.name }}
- name: sidekey-sentinel-password
  mountPath: /var/run/secrets/sidekey-sentinel
  readOnly: true
{{- end }}
{{- if .Values.state.redis.tlsSecret }}
- name: sidekey-redis-tls
  mountPath: /var/run/secrets/sidekey-redis-tls
  readOnly: true
{{- end }}
{{- if .Values.state.signingKeysSecret.name }}
- name: sidekey-signing-keys
  mountPath: /var/run/secrets/sidekey-signing
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes of the shared-state files. */}}
{{- define "sidekey.stateVolumes" -}}
{{- if eq .Values.state.store "redis" }}
- name: sidekey-state
  configMap:
    name: {{ include "sidekey.fullname" . }}-state
{{- include "sidekey.stateSecretVolumes" . }}
{{- end }}
{{- end -}}

{{- define "sidekey.stateSecretVolumes" -}}
{{- if eq .Values.state.store "redis" }}
{{- with .Values.state.redis.passwordSecret }}{{ if .name }}
- name: sidekey-redis-password
  secret:
    secretName: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: password }]
{{- end }}{{ end }}
{{- with .Values.state.redis.sentinelPasswordSecret }}{{ if .name }}
- name: sidekey-sentinel-password
  secret:
    secretName: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: password }]
{{- end }}{{ end }}
{{- if .Values.state.redis.tlsSecret }}
- name: sidekey-redis-tls
  secret:
    secretName: {{ .Values.state.redis.tlsSecret }}
{{- end }}
{{- with .Values.state.signingKeysSecret }}{{ if .name }}
- name: sidekey-signing-keys
  secret:
    secretName: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: key }]
{{- end }}{{ end }}
{{- end }}
{{- end -}}

{{/* The sidekey container. */}}
{{- define "sidekey.container" -}}
{{- $native := include "sidekey.native" . -}}
- name: sidekey
  image: {{ include "sidekey.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if $native }}
  restartPolicy: Always
  {{- end }}
  args:
    - start
    - --listen
    - 127.0.0.1:3128
    # The admin API (routes, explain, workloads, console, approvals) on loopback only: no other
    # pod reaches it. Probes and Prometheus get listeners of their own, serving nothing else.
    - --admin
    - 127.0.0.1:3129
    - --health
    - "*:3130"
    {{- if .Values.metrics.serviceMonitor.enabled }}
    - --metrics
    - "*:3131"
    {{- end }}
    - --policies
    - /etc/sidekey/policies
    - --certs
    - /var/run/sidekey/certs
    {{- if .Values.ca.existingSecret }}
    - --ca-from
    - /etc/sidekey/ca-secret
    {{- end }}
    - --publish-ca
    - /etc/sidekey/ca
    - --workload
    - {{ include "sidekey.workload" . | quote }}
    - --drain-timeout
    - {{ mul (int .Values.sidecar.drainSeconds) 1000 | quote }}
    {{- if not $native }}
    - --shutdown-endpoint
    {{- end }}
    {{- if eq .Values.mode "transparent" }}
    {{- range list "http" "https" }}
    {{- $protocol := . }}
    {{- $listeners := list }}
    {{- range $.Values.transparent.ports }}{{ if eq .protocol $protocol }}{{ $listeners = append $listeners (printf "%d=127.0.0.1:%d" (int .port) (int .listenPort)) }}{{ end }}{{ end }}
    {{- with $listeners }}
    - --transparent-{{ $protocol }}
    - {{ join "," . }}
    {{- end }}
    {{- end }}
    {{- end }}
    {{- if eq .Values.state.store "redis" }}
    - --state
    - /etc/sidekey/state/state.yaml
    {{- end }}
    {{- if .Values.sidecar.reportOnly }}
    - --report-only
    {{- end }}
    {{- with .Values.sidecar.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    {{- include "sidekey.sidecarEnv" . | nindent 4 }}
  ports:
    - name: health
      containerPort: 3130
      protocol: TCP
    {{- if .Values.metrics.serviceMonitor.enabled }}
    - name: metrics
      containerPort: 3131
      protocol: TCP
    {{- end }}
  {{- include "sidekey.probes" . | nindent 2 }}
  {{- if not $native }}
  lifecycle:
    # Without native sidecars the kubelet starts the containers in order and starts the next one
    # only when this hook returns: the agent (listed after sidekey) starts once sidekey is ready,
    # with the CA published. One Node process, once, at start.
    postStart:
      exec:
        command: ["node", "/app/dist/src/cli/main.js", "health", "--ready", "--wait", "120"]
  {{- end }}
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  securityContext:
    runAsUser: {{ int .Values.sidecar.uid }}
    runAsGroup: {{ int .Values.sidecar.uid }}
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    - name: sidekey-certs
      mountPath: /var/run/sidekey/certs
    - name: sidekey-ca-public
      mountPath: /etc/sidekey/ca
    - name: sidekey-policies
      mountPath: /etc/sidekey/policies
      readOnly: true
    {{- if .Values.ca.existingSecret }}
    - name: sidekey-ca-secret
      mountPath: /etc/sidekey/ca-secret
      readOnly: true
    {{- end }}
    {{- include "sidekey.stateMounts" . | indent 4 }}
    {{- if .Values.federation.token.enabled }}
    - name: sidekey-token
      mountPath: /var/run/secrets/sidekey
      readOnly: true
    {{- end }}
{{- end -}}

{{/* httpGet probes on the health listener, with explicit timeouts (an exec probe started a whole Node process each time). */}}
{{- define "sidekey.probes" -}}
startupProbe:
  httpGet: { path: /readyz, port: 3130 }
  periodSeconds: 1
  timeoutSeconds: 1
  failureThreshold: 120
readinessProbe:
  httpGet: { path: /readyz, port: 3130 }
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
livenessProbe:
  httpGet: { path: /healthz, port: 3130 }
  periodSeconds: 20
  timeoutSeconds: 2
  failureThreshold: 3
{{- end -}}

{{/* Transparent mode's init container: the only one with a capability (NET_ADMIN; the nft backend
needs no NET_RAW), runs before sidekey; the same as src/kube/sidecar.ts (a test compares them). */}}
{{- define "sidekey.iptablesInit" -}}
{{- $redirects := list }}{{ $from := list }}{{ $to := list }}
{{- range .Values.transparent.ports }}{{ $redirects = append $redirects (printf "%d:%d" (int .port) (int .listenPort)) }}{{ $from = append $from (int .port) }}{{ $to = append $to (int .listenPort) }}{{ end }}
{{- if or (ne (len (uniq $from)) (len $from)) (ne (len (uniq $to)) (len $to)) }}{{ fail "transparent.ports: each port and each listenPort may appear once" }}{{ end }}
- name: sidekey-iptables
  image: {{ include "sidekey.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - node
    - /app/dist/src/cli/main.js
    - iptables
    - --apply
    - --uid
    - {{ .Values.sidecar.uid | int | quote }}
    - --gid
    - {{ .Values.sidecar.uid | int | quote }}
    - --redirect
    - {{ join "," $redirects }}
    {{- if .Values.transparent.blockOtherEgress }}
    - --block-other-egress
    {{- end }}
  resources:
    requests: { cpu: 10m, memory: 32Mi }
    limits: { memory: 64Mi }
  securityContext:
    runAsUser: 0
    runAsNonRoot: false
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
      add: [NET_ADMIN]
{{- end -}}

{{/* Transparent mode: why the agent container could get around sidekey, "; "-separated (empty:
it cannot). The same checks as src/kube/agent-security.ts: the rules leave sidekey's user id
alone, and root or a capability can take that id or rewrite the rules. */}}
{{- define "sidekey.agentSecurityProblems" -}}
{{- $sc := .Values.agent.securityContext | default dict -}}
{{- $caps := $sc.capabilities | default dict -}}
{{- $problems := list -}}
{{- if not (hasKey $sc "runAsUser") -}}
{{- $problems = append $problems (printf "agent.securityContext.runAsUser is not set (the image's user could be root or sidekey's %d)" (int .Values.sidecar.uid)) -}}
{{- else if eq (int $sc.runAsUser) 0 -}}
{{- $problems = append $problems "agent.securityContext.runAsUser is 0: root can take sidekey's user id" -}}
{{- else if eq (int $sc.runAsUser) (int .Values.sidecar.uid) -}}
{{- $problems = append $problems (printf "agent.securityContext.runAsUser is sidekey's user id %d, whose traffic is not redirected" (int .Values.sidecar.uid)) -}}
{{- end -}}
{{- if not (eq $sc.runAsNonRoot true) -}}{{- $problems = append $problems "agent.securityContext.runAsNonRoot is not true" -}}{{- end -}}
{{- if $sc.privileged -}}{{- $problems = append $problems "agent.securityContext.privileged is true" -}}{{- end -}}
{{- if not (has "ALL" ($caps.drop | default list)) -}}{{- $problems = append $problems "agent.securityContext.capabilities.drop does not include ALL" -}}{{- end -}}
{{- with $caps.add -}}{{- $problems = append $problems (printf "agent.securityContext.capabilities.add is not empty (%s)" (join ", " .)) -}}{{- end -}}
{{- join "; " $problems -}}
{{- end -}}

{{/* The pod volumes sidekey uses. */}}
{{- define "sidekey.volumes" -}}
- name: sidekey-certs
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
- name: sidekey-ca-public
  emptyDir:
    sizeLimit: 4Mi
- name: sidekey-policies
  configMap:
    name: {{ include "sidekey.policiesConfigMap" . }}
{{- if .Values.ca.existingSecret }}
# Root-owned and readable by all (sidekey's user has no fsGroup); only the sidekey container
# mounts it, and sidekey copies the key into the memory-backed certs directory at mode 0600.
- name: sidekey-ca-secret
  secret:
    secretName: {{ .Values.ca.existingSecret }}
    defaultMode: 292 # 0444: a JSON number, read alike by every YAML parser
    items:
      - { key: {{ .Values.ca.certKey | quote }}, path: ca.pem }
      - { key: {{ .Values.ca.keyKey | quote }}, path: ca-key.pem }
{{- end }}
{{- include "sidekey.stateVolumes" . }}
{{- if .Values.federation.token.enabled }}
- name: sidekey-token
  projected:
    sources:
      - serviceAccountToken:
          audience: {{ .Values.federation.token.audience | quote }}
          expirationSeconds: {{ int .Values.federation.token.expirationSeconds }}
          path: token
{{- end }}
{{- end -}}
