{{/* Tamper-evident audit (kuzet.common.audit): the key that MACs every record, and where the
     chain heads are anchored (S3 object lock, COMPLIANCE). Components listed in
     audit.components get these variables; see templates/audit-secret.yaml for the key. */}}

{{- define "kuzet.auditSecret" -}}
{{- .Values.audit.existingSecret | default (printf "%s-audit-key" (include "kuzet.fullname" .)) -}}
{{- end -}}

{{/* "true" when component .name keeps an audit trail: (dict "root" $ "name" "x") */}}
{{- define "kuzet.audits" -}}
{{- if has .name .root.Values.audit.components }}true{{ end -}}
{{- end -}}

{{/* The audit env of a component: (dict "root" $ "name" "x" "component" $c) */}}
{{- define "kuzet.auditEnv" -}}
{{- $root := .root -}}
{{- $audit := $root.Values.audit -}}
{{- if include "kuzet.audits" . }}
- name: KUZET_AUDIT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "kuzet.auditSecret" $root }}
      key: {{ $audit.keys.current }}
# Earlier keys, so records they MACed still verify after a rotation (absent: none).
- name: KUZET_AUDIT_OLD_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "kuzet.auditSecret" $root }}
      key: {{ $audit.keys.old }}
      optional: true
- name: KUZET_AUDIT_ANCHOR_INTERVAL_S
  value: {{ $audit.anchors.intervalSeconds | quote }}
- name: KUZET_AUDIT_ANCHOR_RETENTION_DAYS
  value: {{ $audit.anchors.retentionDays | quote }}
{{- include "kuzet.anchorEnv" . }}
{{- end }}
{{- end -}}

{{/* Where the chain heads are anchored: (dict "root" $ "name" "x" "component" $c) */}}
{{- define "kuzet.anchorEnv" -}}
{{- $root := .root -}}
{{- $audit := $root.Values.audit }}
- name: KUZET_AUDIT_ANCHOR_PREFIX
  value: {{ $audit.anchors.prefix | quote }}
{{- if include "kuzet.objectStoreConfigured" $root }}
{{- if not .component.objectStore }}
{{- include "kuzet.s3Env" $root }}
{{- end }}
- name: KUZET_AUDIT_ANCHOR_URL
  value: {{ printf "s3://%s?endpoint=$(KUZET_S3_ENDPOINT)&secure=%t&object_lock=true" ($audit.anchors.bucket | default "$(KUZET_S3_BUCKET)") $root.Values.objectStore.secure | quote }}
{{- end }}
{{- end -}}
