// Someone's work: `dlmc model.dlm -o webapp` must not delete it.
console.log("hello");
