{{- define "buurt.labels" -}}
app.kubernetes.io/name: buurt
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "buurt.selector" -}}
app.kubernetes.io/name: buurt
app.kubernetes.io/component: controller-manager
{{- end }}

{{- define "buurt.apiSelector" -}}
app.kubernetes.io/name: buurt
app.kubernetes.io/component: api
{{- end }}
