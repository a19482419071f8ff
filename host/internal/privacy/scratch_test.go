package privacy
import ("testing";"fmt")
func TestScratch(t *testing.T){
	o := []float64{2,5,10,20,100}
	r, _ := SampledGaussianRDPs(0.01, 1.0, 300, o)
	fmt.Println(Epsilon(o, r, 1e-5)); fmt.Println(EpsilonClassic(o, r, 1e-5))
	o = []float64{10,20,100}
	r, _ = SampledGaussianRDPs(256.0/60000, 1.12, 60*60000/256, o)
	fmt.Println(60*60000/256, 60.0*60000/256)
	fmt.Println(Epsilon(o, r, 1e-5)); fmt.Println(EpsilonClassic(o, r, 1e-5))
	r, _ = SampledGaussianRDPs(256.0/60000, 1.12, 14063, o)
	fmt.Println(Epsilon(o, r, 1e-5)); fmt.Println(EpsilonClassic(o, r, 1e-5))
	o2 := DefaultOrders()
	r, _ = SampledGaussianRDPs(0.01, 1.0, 300, o2)
	fmt.Println(Epsilon(o2, r, 1e-5)); fmt.Println(EpsilonClassic(o2, r, 1e-5))
}
