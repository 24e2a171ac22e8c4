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

{{/* Host names the admin listener answers to when it is exposed for scraping; $(SIDEKEY_POD_IPS) is expanded by the kubelet. */}}
{{- define "sidekey.adminHosts" -}}
{{- $svc := printf "%s-metrics" (include "sidekey.fullname" .) -}}
{{- join "," (concat (list "$(SIDEKEY_POD_IPS)" $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace)) .Values.metrics.adminHosts) -}}
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
{{- range list "SSL_CERT_FILE" "REQUESTS_CA_BUNDLE" "CURL_CA_BUNDLE" "AWS_CA_BUNDLE" "GIT_SSL_CAINFO" "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" }}
- name: {{ . }}
  value: /etc/sidekey/ca/bundle.pem
{{- end }}
{{- end -}}

{{- define "sidekey.healthProbe" -}}
exec:
  command: ["node", "/app/dist/src/cli/main.js", "health"{{ if .ready }}, "--ready"{{ end }}]
{{- end -}}

{{/* The sidekey container. */}}
{{- define "sidekey.container" -}}
- name: sidekey
  image: {{ include "sidekey.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if .Values.sidecar.native }}
  restartPolicy: Always
  {{- end }}
  args:
    - start
    - --listen
    - 127.0.0.1:3128
    - --admin
    - {{ if .Values.metrics.serviceMonitor.enabled }}0.0.0.0:3129{{ else }}127.0.0.1:3129{{ end }}
    - --policies
    - /etc/sidekey/policies
    - --certs
    - /var/run/sidekey/certs
    - --publish-ca
    - /etc/sidekey/ca
    - --workload
    - {{ include "sidekey.workload" . | quote }}
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
    - name: SIDEKEY_LOG_LEVEL
      value: {{ .Values.sidecar.logLevel | quote }}
    {{- if .Values.metrics.serviceMonitor.enabled }}
    # The admin listener answers only to names that are its own (DNS-rebinding defence): besides
    # loopback, the pod's IPs (what Prometheus scrapes), the metrics Service and metrics.adminHosts.
    - name: SIDEKEY_POD_IPS
      valueFrom:
        fieldRef:
          fieldPath: status.podIPs
    - name: SIDEKEY_ADMIN_HOSTS
      value: {{ include "sidekey.adminHosts" . | quote }}
    {{- end }}
    {{- range .Values.secrets }}
    - name: {{ required "secrets[].env is required" .env }}
      valueFrom:
        secretKeyRef:
          name: {{ required "secrets[].secretName is required" .secretName }}
          key: {{ required "secrets[].key is required" .key }}
    {{- end }}
  {{- if .Values.metrics.serviceMonitor.enabled }}
  ports:
    - name: metrics
      containerPort: 3129
      protocol: TCP
  {{- end }}
  startupProbe:
    {{- include "sidekey.healthProbe" (dict "ready" true) | nindent 4 }}
    periodSeconds: 1
    failureThreshold: 60
  readinessProbe:
    {{- include "sidekey.healthProbe" (dict "ready" true) | nindent 4 }}
    periodSeconds: 10
  livenessProbe:
    {{- include "sidekey.healthProbe" (dict "ready" false) | nindent 4 }}
    periodSeconds: 20
    failureThreshold: 3
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
    {{- if .Values.ca.existingSecret }}
    {{- range list "ca.pem" "ca-key.pem" }}
    - name: sidekey-ca-secret
      mountPath: /var/run/sidekey/certs/{{ . }}
      subPath: {{ . }}
      readOnly: true
    {{- end }}
    {{- end }}
    - name: sidekey-ca-public
      mountPath: /etc/sidekey/ca
    - name: sidekey-policies
      mountPath: /etc/sidekey/policies
      readOnly: true
    {{- if eq .Values.state.store "redis" }}
    - name: sidekey-state
      mountPath: /etc/sidekey/state
      readOnly: true
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
    {{- if .Values.federation.token.enabled }}
    - name: sidekey-token
      mountPath: /var/run/secrets/sidekey
      readOnly: true
    {{- end }}
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
- name: sidekey-ca-secret
  secret:
    secretName: {{ .Values.ca.existingSecret }}
    defaultMode: 0444
{{- end }}
{{- if eq .Values.state.store "redis" }}
- name: sidekey-state
  configMap:
    name: {{ include "sidekey.fullname" . }}-state
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
