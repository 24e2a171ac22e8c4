// Renders a Helm chart the way `helm template` does, for tests on machines without Helm: Go's
// text/template with the sprig function library (the engine and functions Helm uses), plus Helm's
// own include, tpl, required, toYaml, fromYaml, fromYamlArray and toJson, missingkey=zero, and its built-in
// objects (.Values, .Release, .Chart, .Capabilities, .Template). Values arrive merged, as JSON.
//
// usage: render CHART_DIR VALUES_JSON RELEASE NAMESPACE [KUBE_VERSION]  -> JSON {"template path": "rendered text"}
// KUBE_VERSION (default 1.30.0) is what .Capabilities.KubeVersion reports, as `helm template --kube-version`.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func toYaml(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func fromYaml(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYamlArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func main() {
	if len(os.Args) != 5 && len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: render CHART_DIR VALUES_JSON RELEASE NAMESPACE [KUBE_VERSION]")
		os.Exit(2)
	}
	chartDir, valuesFile, release, namespace := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	kubeVersion := "1.30.0"
	if len(os.Args) == 6 {
		kubeVersion = strings.TrimPrefix(os.Args[5], "v")
	}
	kubeParts := strings.SplitN(kubeVersion, ".", 3)
	if len(kubeParts) != 3 {
		fmt.Fprintln(os.Stderr, "KUBE_VERSION must be MAJOR.MINOR.PATCH")
		os.Exit(2)
	}
	chartRaw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	check(err)
	chartMeta := map[string]interface{}{}
	check(yaml.Unmarshal(chartRaw, &chartMeta))
	// Helm exposes Chart.yaml's fields with capitalised names.
	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	valuesRaw, err := os.ReadFile(valuesFile)
	check(err)
	values := map[string]interface{}{}
	check(json.Unmarshal(valuesRaw, &values))

	root := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includedNames := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 100 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		includedNames[name]--
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, fmt.Errorf(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, fmt.Errorf(msg)
		}
		return v, nil
	}
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = fromYaml
	funcs["fromYamlArray"] = fromYamlArray
	funcs["toJson"] = func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }
	funcs["lookup"] = func(string, string, string, string) map[string]interface{} { return map[string]interface{}{} }
	root.Funcs(funcs)
	// Helm refuses a cluster outside Chart.yaml's kubeVersion before it renders anything.
	if constraint, ok := chartMeta["kubeVersion"].(string); ok && constraint != "" {
		fits, err := funcs["semverCompare"].(func(string, string) (bool, error))(constraint, kubeVersion)
		check(err)
		if !fits {
			fmt.Fprintf(os.Stderr, "chart requires kubeVersion: %s which is incompatible with Kubernetes v%s\n", constraint, kubeVersion)
			os.Exit(1)
		}
	}

	var names []string
	chartName := fmt.Sprint(chartMeta["name"])
	check(filepath.Walk(filepath.Join(chartDir, "templates"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, path)
		name := chartName + "/" + filepath.ToSlash(rel)
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	}))
	sort.Strings(names)
	out := map[string]string{}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{
			"Values":  values,
			"Chart":   chart,
			"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Capabilities": map[string]interface{}{
				"KubeVersion": map[string]interface{}{"Version": "v" + kubeVersion, "Major": kubeParts[0], "Minor": kubeParts[1], "GitVersion": "v" + kubeVersion},
				"APIVersions": apiVersions{"v1", "apps/v1", "networking.k8s.io/v1", "monitoring.coreos.com/v1"},
			},
			"Template": map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			fmt.Fprintln(os.Stderr, err.Error())
			os.Exit(1)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	enc := json.NewEncoder(os.Stdout)
	check(enc.Encode(out))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
