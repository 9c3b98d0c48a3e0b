{{- define "speedbench.labels" -}}
app.kubernetes.io/part-of: speedbench
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- /* Name of an engine's Deployment/Service: <release>-<variant>, at most 63 characters. */}}
{{- define "speedbench.engineName" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "speedbench.master" -}}
{{- printf "%s-locust-master" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* The engine the load targets: benchmark.target, or the only engine. */}}
{{- define "speedbench.target" -}}
{{- $target := .Values.benchmark.target }}
{{- if not $target }}
{{- if ne (len .Values.engines) 1 }}
{{- fail "set benchmark.target to the engine the load should target (several or no engines)" }}
{{- end }}
{{- $target = first (keys .Values.engines) }}
{{- end }}
{{- if not (hasKey .Values.engines $target) }}
{{- fail (printf "benchmark.target %q is not one of the engines: %v" $target (keys .Values.engines | sortAlpha)) }}
{{- end }}
{{- $e := index .Values.engines $target }}
{{- printf "http://%s:%v" (include "speedbench.engineName" (dict "root" . "name" $target)) $e.port }}
{{- end }}

{{- define "speedbench.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
