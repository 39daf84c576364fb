{{- /*
Many condominiums (values `tenants`): one folder, /etc/porteiro/tenants, projected from the
chart's ConfigMap (tenants.condominiums) and the existing ones (tenants.existingConfigMaps),
mounted into every service that reads it. No checksum annotation on purpose: the kubelet
updates the projected files and each service reloads them without a restart.
*/ -}}

{{- define "porteiro.tenantsEnabled" -}}
{{- if or .Values.tenants.condominiums .Values.tenants.existingConfigMaps -}}true{{- end -}}
{{- end -}}

{{- define "porteiro.tenantsConfigMapName" -}}
{{- printf "%s-tenants" (include "porteiro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The env of a service reading the folder: (dict "root" $ "prefix" "PORTEIRO_X_" "labels" bool) */ -}}
{{- define "porteiro.tenantsEnv" -}}
{{- $tenants := .root.Values.tenants -}}
{{- if include "porteiro.tenantsEnabled" .root }}
- name: {{ .prefix }}TENANTS_DIR
  value: /etc/porteiro/tenants
- name: {{ .prefix }}RELOAD_INTERVAL_SECONDS
  value: {{ $tenants.reloadIntervalSeconds | quote }}
{{- if .labels }}
- name: {{ .prefix }}METRICS_CONDOMINIUMS
  value: {{ $tenants.metricsCondominiums | quote }}
- name: {{ .prefix }}METRICS_CONDOMINIUMS_LIMIT
  value: {{ $tenants.metricsLimit | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "porteiro.tenantsMount" -}}
{{- if include "porteiro.tenantsEnabled" . }}
- name: tenants
  mountPath: /etc/porteiro/tenants
  readOnly: true
{{- end }}
{{- end -}}

{{- define "porteiro.tenantsVolume" -}}
{{- if include "porteiro.tenantsEnabled" . }}
- name: tenants
  projected:
    sources:
      {{- if .Values.tenants.condominiums }}
      - configMap:
          name: {{ include "porteiro.tenantsConfigMapName" . }}
      {{- end }}
      {{- range .Values.tenants.existingConfigMaps }}
      - configMap:
          name: {{ . }}
      {{- end }}
{{- end }}
{{- end -}}
