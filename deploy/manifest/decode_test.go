package manifest_test

import (
	"strings"
	"testing"

	"github.com/travluk/ecom/deploy/manifest"
	appsv1 "k8s.io/api/apps/v1"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: customer
spec:
  selector:
    matchLabels: {app: customer}
  template:
    metadata:
      labels: {app: customer}
    spec:
      containers:
        - name: customer
          image: travluk/customer:1
          ports:
            - name: http
              %s: 8080
`

func TestDecodeIsStrict(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr string // "" means the document must decode
	}{
		{
			name: "valid deployment",
			doc:  strings.Replace(deployment, "%s", "containerPort", 1),
		},
		{
			name:    "misspelt field",
			doc:     strings.Replace(deployment, "%s", "contianerPort", 1),
			wantErr: `unknown field "spec.template.spec.containers[0].ports[0].contianerPort"`,
		},
		{
			name:    "field in the wrong case",
			doc:     strings.Replace(deployment, "%s", "ContainerPort", 1),
			wantErr: `unknown field "spec.template.spec.containers[0].ports[0].ContainerPort"`,
		},
		{
			name:    "duplicate key",
			doc:     strings.Replace(deployment, "%s: 8080", "containerPort: 8080\n              containerPort: 8081", 1),
			wantErr: `already set in map`,
		},
		{
			name:    "wrong type",
			doc:     strings.Replace(deployment, "%s: 8080", "containerPort: http", 1),
			wantErr: "cannot unmarshal string",
		},
		{
			name: "misspelt field in the VPA",
			doc: `apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: customer}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: customer}
  updatePolicy: {updateMod: InPlaceOrRecreate}
`,
			wantErr: `unknown field "spec.updatePolicy.updateMod"`,
		},
		{
			name: "misspelt field in the HPA",
			doc: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: product}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: product}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilisation: 70}
`,
			wantErr: `unknown field "spec.metrics[0].resource.target.averageUtilisation"`,
		},
		{
			name:    "HPA in the v1 API, which has no metrics",
			doc:     "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n",
			wantErr: "no typed struct",
		},
		{
			name:    "kind without a typed struct",
			doc:     "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n",
			wantErr: `no typed struct for apiVersion "apps/v1" kind "Deploymnet"`,
		},
		{
			name:    "old API version",
			doc:     "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: x}\n",
			wantErr: "no typed struct",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Decode("test.yaml", []byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Decode: unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Decode accepted the document; want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Decode error = %v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeReturnsTypedStructs(t *testing.T) {
	stream := strings.Replace(deployment, "%s", "containerPort", 1) + `---
# a comment-only document is skipped
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: customer}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: customer}
  updatePolicy: {updateMode: InPlaceOrRecreate}
`
	objs, err := manifest.DecodeAll("stream.yaml", []byte(stream))
	if err != nil {
		t.Fatalf("DecodeAll: %v", err)
	}
	if len(objs) != 2 {
		t.Fatalf("DecodeAll returned %d objects, want 2", len(objs))
	}
	d, ok := objs[0].Value.(*appsv1.Deployment)
	if !ok {
		t.Fatalf("first object is %T, want *appsv1.Deployment", objs[0].Value)
	}
	if got := d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort; got != 8080 {
		t.Errorf("containerPort = %d, want 8080", got)
	}
	v, ok := objs[1].Value.(*vpav1.VerticalPodAutoscaler)
	if !ok {
		t.Fatalf("second object is %T, want *vpav1.VerticalPodAutoscaler", objs[1].Value)
	}
	if got := *v.Spec.UpdatePolicy.UpdateMode; got != vpav1.UpdateModeInPlaceOrRecreate {
		t.Errorf("updateMode = %q, want InPlaceOrRecreate", got)
	}
	if objs[1].Name != "customer" || objs[1].Source != "stream.yaml#1" {
		t.Errorf("object = {Name: %q, Source: %q}, want {customer, stream.yaml#1}", objs[1].Name, objs[1].Source)
	}
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	err := manifest.DecodeStrict([]byte("resources: [a.yaml]\nresoruces: [b.yaml]\n"), &k)
	if err == nil || !strings.Contains(err.Error(), `unknown field "resoruces"`) {
		t.Fatalf("DecodeStrict error = %v, want unknown field \"resoruces\"", err)
	}
}
