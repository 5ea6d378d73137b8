package team

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// hoursPerMonth is how many hours the cost estimate takes a month to have:
// 365 × 24 / 12.
const hoursPerMonth = 730

// summaryResources are the resources the usage summary names, in order,
// with the word it uses for each.
var summaryResources = []struct{ name, word string }{
	{"requests.cpu", "cpu"}, {"requests.memory", "memory"}, {"requests.storage", "storage"}, {"pods", "pods"},
}

// usageOf is the team's usage as its quota counts it now (nil when buurt
// has not read it), with the blueprint's prices and the size of its Shared
// database (nil keeps the size written before). A resource whose step
// (teamsv1alpha1.UsageStep) and hard are as the status says keeps the
// figure written before, so that the status is written only when a use
// moves by a step, or the quota changes; the cost follows the figures
// written. Nil when there is nothing to say: no quota, no prices and no
// database size.
func usageOf(before *teamsv1alpha1.TeamUsage, quota *corev1.ResourceQuota, prices *teamsv1alpha1.Prices,
	class teamsv1alpha1.DatabaseClass, databaseSize *resource.Quantity) *teamsv1alpha1.TeamUsage {
	usage := &teamsv1alpha1.TeamUsage{}
	if class == teamsv1alpha1.DatabaseClassShared {
		usage.DatabaseSize = databaseSize
		if databaseSize == nil && before != nil {
			usage.DatabaseSize = before.DatabaseSize
		}
	}
	for _, u := range quotaUses(quota) {
		now := teamsv1alpha1.ResourceUsage{Name: u.name, Used: &u.used, Hard: &u.hard, Percent: ptr.To(step(u.used, u.hard))}
		if was := usageNamed(before, u.name); was != nil && *was.Percent == *now.Percent && was.Hard.Cmp(u.hard) == 0 {
			now = *was.DeepCopy()
		}
		usage.Resources = append(usage.Resources, now)
	}
	if len(usage.Resources) == 0 && prices == nil && usage.DatabaseSize == nil {
		return nil
	}
	if prices != nil {
		usage.EstimatedMonthlyCost = cost(usage, prices, class != teamsv1alpha1.DatabaseClassNone)
	}
	usage.Summary = summary(usage)
	if before != nil && equality.Semantic.DeepEqual(before, usage) {
		return before
	}
	return usage
}

// quotaUse is one resource a quota counts: what is used of what it allows.
type quotaUse struct {
	name       string
	used, hard resource.Quantity
}

// quotaUses are the resources of quota's status that are used and allowed
// above nothing, by name; none for a nil quota.
func quotaUses(quota *corev1.ResourceQuota) []quotaUse {
	if quota == nil {
		return nil
	}
	var uses []quotaUse
	for name, hard := range quota.Status.Hard {
		if used, ok := quota.Status.Used[name]; ok && hard.Sign() > 0 {
			uses = append(uses, quotaUse{name: string(name), used: used, hard: hard})
		}
	}
	slices.SortFunc(uses, func(a, b quotaUse) int { return strings.Compare(a.name, b.name) })
	return uses
}

// step is used of hard in percent, rounded down to a multiple of
// teamsv1alpha1.UsageStep.
func step(used, hard resource.Quantity) int32 {
	ratio := new(big.Rat).Quo(rat(used), rat(hard))
	percent := new(big.Int).Quo(new(big.Int).Mul(ratio.Num(), big.NewInt(100)), ratio.Denom())
	stepped := percent.Int64() / teamsv1alpha1.UsageStep * teamsv1alpha1.UsageStep
	return int32(min(stepped, 100000)) //nolint:gosec // bounded just above
}

// rat is a quantity as an exact fraction.
func rat(q resource.Quantity) *big.Rat {
	r, ok := new(big.Rat).SetString(q.AsDec().String())
	if !ok {
		return new(big.Rat)
	}
	return r
}

func usageNamed(usage *teamsv1alpha1.TeamUsage, name string) *teamsv1alpha1.ResourceUsage {
	if usage == nil {
		return nil
	}
	for i := range usage.Resources {
		if usage.Resources[i].Name == name {
			return &usage.Resources[i]
		}
	}
	return nil
}

// cost is what the requests in usage cost for a month at prices: CPUs and
// GiBs of memory requested for 730 hours, GiBs of storage requested for a
// month, and the database. A resource the quota does not count costs
// nothing, as does a price left out.
func cost(usage *teamsv1alpha1.TeamUsage, prices *teamsv1alpha1.Prices, hasDatabase bool) *teamsv1alpha1.Cost {
	gib := new(big.Rat).SetInt64(1 << 30)
	used := func(name string) *big.Rat {
		if u := usageNamed(usage, name); u != nil {
			return rat(*u.Used)
		}
		return new(big.Rat)
	}
	total := new(big.Rat)
	add := func(amount *big.Rat, price teamsv1alpha1.Price, times int64) {
		p, ok := new(big.Rat).SetString(string(price))
		if !ok {
			return
		}
		total.Add(total, new(big.Rat).Mul(new(big.Rat).Mul(amount, p), new(big.Rat).SetInt64(times)))
	}
	add(used("requests.cpu"), prices.CPUHour, hoursPerMonth)
	add(new(big.Rat).Quo(used("requests.memory"), gib), prices.MemoryGiBHour, hoursPerMonth)
	add(new(big.Rat).Quo(used("requests.storage"), gib), prices.StorageGiBMonth, 1)
	if hasDatabase {
		add(new(big.Rat).SetInt64(1), prices.DatabaseMonth, 1)
	}
	return &teamsv1alpha1.Cost{Amount: total.FloatString(2), Currency: prices.Currency}
}

// summary is the usage in a line: "cpu 45%, memory 60%, pods 25%; 48.20
// EUR a month".
func summary(usage *teamsv1alpha1.TeamUsage) string {
	var parts []string
	for _, r := range summaryResources {
		if u := usageNamed(usage, r.name); u != nil {
			parts = append(parts, fmt.Sprintf("%s %d%%", r.word, *u.Percent))
		}
	}
	line := strings.Join(parts, ", ")
	if c := usage.EstimatedMonthlyCost; c != nil {
		if line != "" {
			line += "; "
		}
		line += fmt.Sprintf("%s %s a month", c.Amount, c.Currency)
	}
	return line
}

// quotaSteps is what the reconcile reads of a quota's status: the step of
// each resource's use, and its hard. A quota's use moves with every pod;
// the team is woken only when it crosses a step.
func quotaSteps(quota *corev1.ResourceQuota) string {
	var parts []string
	for _, u := range quotaUses(quota) {
		parts = append(parts, fmt.Sprintf("%s=%d/%s", u.name, step(u.used, u.hard), u.hard.String()))
	}
	return strings.Join(parts, ",")
}
