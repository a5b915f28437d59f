{{/* Names ---------------------------------------------------------------------------------- */}}

{{- define "kuzet.fullname" -}}
{{- if contains "kuzet" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kuzet" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The resource name of a component: (dict "root" $ "name" "alerting") */}}
{{- define "kuzet.componentName" -}}
{{- printf "%s-%s" (include "kuzet.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kuzet.selectorLabels" -}}
app.kubernetes.io/name: kuzet
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "kuzet.labels" -}}
{{ include "kuzet.selectorLabels" . }}
app.kubernetes.io/part-of: kuzet
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Every pod of this release (the default-deny NetworkPolicy selects these). */}}
{{- define "kuzet.instanceSelector" -}}
app.kubernetes.io/name: kuzet
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Components --------------------------------------------------------------------------- */}}

{{/* Whether a component (or "triton") is enabled: (dict "root" $ "name" "x") -> "true" / "" */}}
{{- define "kuzet.enabled" -}}
{{- if eq .name "triton" -}}
{{- if .root.Values.triton.enabled }}true{{ end -}}
{{- else -}}
{{- $c := index .root.Values.components .name | default dict -}}
{{- if $c.enabled }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* What each component supports at more than one replica: the one place the chart keeps it.
     "tested": a test runs two replicas on one database and checks they agree (charts/tests
     names it); "stateless": keeps nothing between calls that another replica would need; "no":
     one replica only. A component missing here is "no". Scaling one that is "no" above 1
     (replicas or autoscaling.maxReplicas) fails the render (kuzet.checkReplicas). */}}
{{- define "kuzet.multiReplica" -}}
inference: stateless
gateway: stateless
alerting: tested
identity: tested
ingest: tested
badge: tested
drone: tested
traffic: tested
{{- end -}}

{{/* Fails the render when a component is scaled beyond what it supports: (dict "root" $ "name" "x") */}}
{{- define "kuzet.checkReplicas" -}}
{{- $c := index .root.Values.components .name -}}
{{- $support := index (include "kuzet.multiReplica" .root | fromYaml) .name | default "no" -}}
{{- $most := int $c.replicas -}}
{{- if and $c.autoscaling $c.autoscaling.enabled -}}
{{- $most = int $c.autoscaling.maxReplicas -}}
{{- end -}}
{{- if and (gt $most 1) (eq $support "no") -}}
{{- fail (printf "components.%s: %s has no tested multi-replica support; run one replica (replicas: 1, autoscaling off), not %d" .name .name $most) -}}
{{- end -}}
{{- end -}}

{{/* The port other components call: (dict "root" $ "name" "x") */}}
{{- define "kuzet.callPort" -}}
{{- if eq .name "triton" -}}
{{- .root.Values.triton.grpcPort -}}
{{- else -}}
{{- (index .root.Values.components .name).port -}}
{{- end -}}
{{- end -}}

{{- define "kuzet.endpoint" -}}
{{- printf "%s:%v" (include "kuzet.componentName" .) (include "kuzet.callPort" .) -}}
{{- end -}}

{{- define "kuzet.image" -}}
{{- $g := .root.Values.global.image -}}
{{- printf "%s/%s:%s" $g.registry .component.image ($g.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* Secrets (existingSecret, or the chart's dev-only Secret) -------------------------------- */}}

{{- define "kuzet.databaseConfigured" -}}
{{- if or .Values.database.existingSecret .Values.database.url }}true{{ end -}}
{{- end -}}

{{- define "kuzet.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "kuzet.fullname" .)) -}}
{{- end -}}

{{- define "kuzet.objectStoreConfigured" -}}
{{- if or .Values.objectStore.existingSecret .Values.objectStore.endpoint }}true{{ end -}}
{{- end -}}

{{- define "kuzet.objectStoreSecret" -}}
{{- .Values.objectStore.existingSecret | default (printf "%s-objectstore" (include "kuzet.fullname" .)) -}}
{{- end -}}

{{/* Environment ------------------------------------------------------------------------------ */}}

{{/* Secret-backed env of a component: (dict "root" $ "name" "x" "component" $c) */}}
{{- define "kuzet.secretEnv" -}}
{{- $root := .root -}}
{{- $svc := upper .name -}}
{{- $c := .component -}}
{{- if and $c.database (include "kuzet.databaseConfigured" $root) }}
{{- $db := $c.databaseSecret | default dict }}
{{- $roles := $root.Values.database.runtimeRoles | default dict }}
- name: KUZET_{{ $svc }}_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if $roles.enabled }}
      {{- /* Its own least-privilege role; the owner's URL stays with the migration Job. */}}
      name: {{ $roles.existingSecret }}
      key: {{ .name }}
      {{- else }}
      name: {{ $db.existingSecret | default (include "kuzet.databaseSecret" $root) }}
      key: {{ $db.key | default $root.Values.database.secretKey }}
      {{- end }}
{{- end }}
{{- if and $c.objectStore (include "kuzet.objectStoreConfigured" $root) }}
{{- include "kuzet.s3Env" $root }}
# Composed from the Secret-backed variables above by the kubelet ($(VAR) expansion), so neither
# the endpoint nor the bucket is written into the manifest.
- name: KUZET_{{ $svc }}_OBJECT_STORE_URL
  value: {{ printf "s3://$(KUZET_S3_BUCKET)?endpoint=$(KUZET_S3_ENDPOINT)&secure=%t&object_lock=%t" $root.Values.objectStore.secure $root.Values.objectStore.objectLock | quote }}
{{- end }}
{{- range $name, $ref := ($c.secretEnv | default dict) }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secret }}
      key: {{ $ref.key }}
{{- end }}
{{- include "kuzet.auditEnv" . }}
{{- end -}}

{{- define "kuzet.s3Env" -}}
{{- $os := .Values.objectStore }}
{{- $secret := include "kuzet.objectStoreSecret" . }}
- name: KUZET_S3_ENDPOINT
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $os.keys.endpoint }}}}
- name: KUZET_S3_BUCKET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $os.keys.bucket }}}}
- name: KUZET_S3_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $os.keys.accessKey }}}}
- name: KUZET_S3_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $os.keys.secretKey }}}}
{{- end -}}

{{/* Pod pieces ------------------------------------------------------------------------------- */}}

{{- define "kuzet.topologySpread" -}}
{{- $root := .root -}}
{{- if $root.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $key := $root.Values.topologySpread.topologyKeys }}
  - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "kuzet.selectorLabels" (dict "root" $root "name" $.name) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* A NetworkPolicy port list from ints or {port, protocol} maps. */}}
{{- define "kuzet.npPorts" -}}
{{- range . }}
{{- if kindIs "map" . }}
- port: {{ .port }}
  protocol: {{ .protocol | default "TCP" }}
{{- else }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end }}
{{- end -}}

{{/* Native gRPC probes need Kubernetes >= 1.24; older API servers get TCP probes instead. */}}
{{- define "kuzet.grpcProbes" -}}
{{- $port := .port -}}
{{- $check := dict "tcpSocket" (dict "port" "grpc") -}}
{{- /* The kubelet's gRPC probe speaks plaintext only: an mTLS port is probed over TCP. */ -}}
{{- if and (semverCompare ">=1.24-0" .root.Capabilities.KubeVersion.Version) (not (include "kuzet.mtls" .root)) -}}
{{- $check = dict "grpc" (dict "port" ($port | int) "service" "") -}}
{{- end -}}
{{- if eq (.protocol | default "grpc") "http" -}}
{{- $check = dict "httpGet" (dict "path" "/healthz" "port" "http") -}}
{{- end -}}
startupProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 5
  failureThreshold: 60
readinessProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
livenessProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{- define "kuzet.pdbApiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}policy/v1{{- else -}}policy/v1beta1{{- end -}}
{{- end -}}

{{- define "kuzet.hpaApiVersion" -}}
{{- if semverCompare ">=1.23-0" .Capabilities.KubeVersion.Version -}}autoscaling/v2{{- else -}}autoscaling/v2beta2{{- end -}}
{{- end -}}

{{/* Non-secret settings of a component (its ConfigMap): (dict "root" $ "name" "x") */}}
{{- define "kuzet.componentConfig" -}}
{{- $root := .root -}}
{{- $c := index $root.Values.components .name -}}
{{- $svc := upper .name -}}
KUZET_{{ $svc }}_HOST: "0.0.0.0"
KUZET_{{ $svc }}_PORT: {{ $c.port | quote }}
{{- with $c.device }}
KUZET_{{ $svc }}_DEVICE_PORT: {{ .port | int64 | toString | quote }}
KUZET_{{ $svc }}_DEVICE_MAX_STREAMS: {{ .maxStreams | int64 | toString | quote }}
{{- range $key, $env := dict "maxConnections" "MAX_CONNECTIONS" "controlFrameBurst" "CONTROL_FRAME_BURST" "writeHighWaterBytes" "WRITE_HIGH_WATER_BYTES" }}
{{- if hasKey $c.device $key }}
KUZET_{{ $svc }}_DEVICE_{{ $env }}: {{ index $c.device $key | int64 | toString | quote }}
{{- end }}
{{- end }}
{{- range $key, $env := dict "controlFramesPerSecond" "CONTROL_FRAMES_PER_S" "prefaceTimeoutSeconds" "PREFACE_TIMEOUT_S" "idleTimeoutSeconds" "IDLE_TIMEOUT_S" }}
{{- if hasKey $c.device $key }}
KUZET_{{ $svc }}_DEVICE_{{ $env }}: {{ index $c.device $key | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
KUZET_LOG_LEVEL: {{ $root.Values.global.logLevel | quote }}
KUZET_DATA_DIR: "/var/lib/kuzet"
KUZET_TENANCY_FILE: "/etc/kuzet/tenancy.json"
KUZET_REGION: {{ $root.Values.global.region | quote }}
{{- with $root.Values.telemetry.otlpEndpoint }}
KUZET_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- range $callee := $c.calls }}
{{- if include "kuzet.enabled" (dict "root" $root "name" $callee) }}
KUZET_ENDPOINT_{{ upper $callee }}: {{ include "kuzet.endpoint" (dict "root" $root "name" $callee) | quote }}
{{- end }}
{{- end }}
{{- with $c.leaseDurationSeconds }}
KUZET_{{ $svc }}_LEASE_DURATION_S: {{ . | toString | quote }}
{{- end }}
{{- with $c.minAnalysedIntervalSeconds }}
KUZET_{{ $svc }}_MIN_ANALYSED_INTERVAL_S: {{ . | toString | quote }}
{{- end }}
{{- with $c.retention }}
{{- range $kind, $days := (.days | default dict) }}
KUZET_{{ $svc }}_RETENTION_{{ upper $kind }}_DAYS: {{ $days | toString | quote }}
{{- end }}
{{- range $kind, $agencies := (.agencyDays | default dict) }}
{{- if not (hasKey ($c.retention.days | default dict) $kind) }}
{{- fail (printf "components.%s.retention.agencyDays.%s: no such kind (days has %s)" $.name $kind (keys ($c.retention.days | default dict) | sortAlpha | join ", ")) }}
{{- end }}
KUZET_{{ $svc }}_RETENTION_{{ upper $kind }}_AGENCY_DAYS: {{ $agencies | toJson | quote }}
{{- end }}
{{- with .intervalSeconds }}
KUZET_{{ $svc }}_RETENTION_INTERVAL_S: {{ . | toString | quote }}
{{- end }}
{{- with .holdReleaseTtlSeconds }}
KUZET_{{ $svc }}_HOLD_RELEASE_TTL_S: {{ . | toString | quote }}
{{- end }}
{{- end }}
{{- if and (eq .name "inference") (include "kuzet.enabled" (dict "root" $root "name" "triton")) }}
KUZET_INFERENCE_BACKEND: "triton"
KUZET_INFERENCE_TRITON_URL: {{ include "kuzet.endpoint" (dict "root" $root "name" "triton") | quote }}
{{- end }}
{{- if eq .name "gateway" }}
{{- with $c.issuers }}
{{- if hasKey ($c.env | default dict) "KUZET_GATEWAY_ISSUERS" }}
{{- fail "components.gateway: set the issuers in components.gateway.issuers (with their agencies), not in env.KUZET_GATEWAY_ISSUERS" }}
{{- end }}
{{- $urls := list }}
{{- $agencies := dict }}
{{- range . }}{{ $urls = append $urls .issuer }}{{ $_ := set $agencies .issuer .agencies }}{{ end }}
KUZET_GATEWAY_ISSUERS: {{ toJson $urls | quote }}
KUZET_GATEWAY_ISSUER_AGENCIES: {{ toJson $agencies | quote }}
{{- end }}
{{- with $c.trustedProxies }}
KUZET_GATEWAY_TRUSTED_PROXIES: {{ toJson . | quote }}
{{- end }}
{{- end }}
{{- if eq .name "federation" }}
{{- include "kuzet.federationConfig" . }}
{{- end }}
{{- range $k, $v := ($c.env | default dict) }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* "true" when component .name is the federation service with a NATS server to reach (the URL
     in values or in a Secret): (dict "root" $ "name" "x") */}}
{{- define "kuzet.federationNats" -}}
{{- $c := index .root.Values.components .name -}}
{{- if and (eq .name "federation") (or $c.natsUrl (hasKey ($c.secretEnv | default dict) "KUZET_FEDERATION_NATS_URL")) }}true{{ end -}}
{{- end -}}

{{/* KUZET_FEDERATION_* from components.federation (docs/federation.md, "Settings"). */}}
{{- define "kuzet.federationConfig" -}}
{{- $c := index .root.Values.components .name -}}
{{- $role := $c.role | default "facility" -}}
{{- if and $c.natsUrl (hasKey ($c.secretEnv | default dict) "KUZET_FEDERATION_NATS_URL") }}
{{- fail "components.federation: give the NATS URL in natsUrl or in secretEnv.KUZET_FEDERATION_NATS_URL, not both" }}
{{- end }}
{{- if and (eq $role "hub") (not $c.facilities) (include "kuzet.federationNats" .) }}
{{- fail "components.federation.facilities: a hub sources at least one facility" }}
{{- end }}
{{- if and $c.upstreamDomain (ne $role "hub") }}
{{- fail "components.federation.upstreamDomain: only a hub (a region under its nation) has one; a facility names its hub in hubDomain" }}
{{- end }}
{{- if and $c.upstreamDomain (eq $c.upstreamDomain ($c.hubDomain | default "hub")) }}
{{- fail "components.federation.upstreamDomain: the hub above this one, not this hub's own domain (hubDomain)" }}
{{- end }}
{{- if and (eq $role "facility") (eq ($c.siteId | default "site-1") ($c.hubDomain | default "hub")) }}
{{- fail "components.federation: a facility's siteId is its own JetStream domain and must differ from hubDomain" }}
{{- end }}
KUZET_FEDERATION_ROLE: {{ $role | quote }}
KUZET_FEDERATION_SITE_ID: {{ $c.siteId | default "site-1" | quote }}
KUZET_FEDERATION_HUB_DOMAIN: {{ $c.hubDomain | default "hub" | quote }}
KUZET_FEDERATION_FACILITIES: {{ $c.facilities | default list | toJson | quote }}
KUZET_FEDERATION_AUDIT_SERVICES: {{ $c.auditServices | default list | toJson | quote }}
{{- with $c.natsUrl }}
KUZET_FEDERATION_NATS_URL: {{ . | quote }}
{{- end }}
{{- with $c.upstreamDomain }}
KUZET_FEDERATION_UPSTREAM_DOMAIN: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "kuzet.tenancy" -}}
{{- dict "region" .Values.global.region "agencies" .Values.agencies | toPrettyJson -}}
{{- end -}}

{{/* An egress rule (dict "to" peers "ports" [...] "where" "the values path"). A rule without
     peers would open its ports to every address, so the render fails and names the value to fill. */}}
{{- define "kuzet.egressRule" -}}
{{- if not .to }}
{{- fail (printf "%s: a NetworkPolicy egress rule needs `to` (NetworkPolicyPeers: ipBlock, namespaceSelector, podSelector); without it ports %v would be open to every address" .where .ports) }}
{{- end }}
- ports:
    {{- include "kuzet.npPorts" .ports | trim | nindent 4 }}
  to:
    {{- toYaml .to | nindent 4 }}
{{- end -}}
