{{- define "apps.labels" -}}
app.kubernetes.io/instance: {{ .app.name }}-{{ .env }}
app.kubernetes.io/managed-by: berth
app.kubernetes.io/name: {{ .app.name }}
app.kubernetes.io/part-of: {{ .app.team }}
berth.dev/env: {{ .env }}
{{- end }}
{{- define "apps.selector" -}}
app.kubernetes.io/instance: {{ .app.name }}-{{ .env }}
app.kubernetes.io/name: {{ .app.name }}
{{- end }}
