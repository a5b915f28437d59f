{{/* mTLS between components (kuzet.common.tls) ----------------------------------------------- */}}

{{/* "true" unless tls.mode is plaintext-dev (then every gRPC port is plaintext: development only). */}}
{{- define "kuzet.mtls" -}}
{{- if ne .Values.tls.mode "plaintext-dev" }}true{{ end -}}
{{- end -}}

{{/* The Secret holding a component's certificate, key and CA: (dict "root" $ "name" "x") */}}
{{- define "kuzet.tlsSecret" -}}
{{- printf "%s-tls" (include "kuzet.componentName" .) -}}
{{- end -}}

{{/* The DNS names a component's certificate answers to: its Service, short and qualified, and
     each pod of a StatefulSet by its stable name. (dict "root" $ "name" "x") -> a YAML list */}}
{{- define "kuzet.tlsNames" -}}
{{- $svc := include "kuzet.componentName" . -}}
{{- $ns := .root.Release.Namespace -}}
{{- $domain := .root.Values.tls.clusterDomain -}}
- {{ $svc | quote }}
- {{ printf "%s.%s" $svc $ns | quote }}
- {{ printf "%s.%s.svc" $svc $ns | quote }}
- {{ printf "%s.%s.svc.%s" $svc $ns $domain | quote }}
{{- $c := index .root.Values.components .name | default dict }}
{{- if eq ($c.kind | default "") "StatefulSet" }}
- {{ printf "*.%s-headless.%s.svc" $svc $ns | quote }}
- {{ printf "*.%s-headless.%s.svc.%s" $svc $ns $domain | quote }}
{{- end }}
{{- end -}}

{{/* Env of a container that uses its component's certificate (kuzet.common.config.TlsSettings). */}}
{{- define "kuzet.tlsEnv" -}}
- name: KUZET_TLS_MODE
  value: {{ .Values.tls.mode | quote }}
{{- if include "kuzet.mtls" . }}
- name: KUZET_TLS_CERT
  value: /etc/kuzet/tls/tls.crt
- name: KUZET_TLS_KEY
  value: /etc/kuzet/tls/tls.key
- name: KUZET_TLS_CA
  value: /etc/kuzet/tls/ca.crt
{{- end }}
{{- end -}}

{{- define "kuzet.tlsVolumeMount" -}}
{{- if include "kuzet.mtls" . }}
- name: tls
  mountPath: /etc/kuzet/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* (dict "root" $ "name" "x") */}}
{{- define "kuzet.tlsVolume" -}}
{{- if include "kuzet.mtls" .root }}
- name: tls
  secret:
    secretName: {{ include "kuzet.tlsSecret" . }}
    defaultMode: 0400
{{- end }}
{{- end -}}
